/* Generated forms and small actions, sent to the REST API as JSON (see web/forms.py).
 *
 * .api-form      fields carry data-type (str, int, float, bool, datetime, id, ids); the
 *                form's data-method/data-url say where to send them, data-next where to
 *                go afterwards ({id} = the new row's id), data-result a response field
 *                to show instead of leaving (a token shown once, an invitation link).
 *                A 422's errors land next to their fields, in words.
 * .api-action    a button: optional data-confirm, data-body (JSON), then data-next.
 * .media-slot    upload with a progress bar, replace, remove.
 * .copy-button   copies the input named by data-copy.
 * [data-colour]  sets the --colour custom property (track colours; no inline styles). */
(function () {
  "use strict";
  var E = window.Eventport;

  var WORDS = [
    [/^Field required$/, "This is required."],
    [/^String should have at least 1 character.*/, "This cannot be empty."],
    [/^String should have at least (\d+) characters?.*/, "Use at least $1 characters."],
    [/^String should have at most (\d+) characters?.*/, "Use at most $1 characters."],
    [/^String should match pattern.*/, "This does not have the required form."],
    [/^Input should be greater than or equal to (\S+).*/, "Use $1 or more."],
    [/^Input should be less than or equal to (\S+).*/, "Use $1 or less."],
    [/^Input should be a valid integer.*/, "Enter a whole number."],
    [/^Input should be a valid number.*/, "Enter a number."],
    [/^Input should be a valid datetime.*/, "Enter a date and time."],
    [/^Input should be a valid URL.*/, "Enter a full address starting with https://."],
    [/^value is not a valid email address: (.*)/, "This is not an e-mail address: $1"],
    [/^Value error, (.*)/, "$1"],
    [/^Input should be (.*)/, "Choose one of: $1."]
  ];

  function inWords(message) {
    for (var i = 0; i < WORDS.length; i++) {
      if (WORDS[i][0].test(message)) return message.replace(WORDS[i][0], WORDS[i][1]);
    }
    return message.charAt(0).toUpperCase() + message.slice(1);
  }

  function encode(input) {
    var type = input.dataset.type || "str";
    var value = input.value;
    var nullable = input.dataset.nullable === "true";
    if (type === "bool") return input.checked;
    if (type === "lines") {  // a text area holding one item per line
      return value.split(/\r?\n/).map(function (v) { return v.trim(); }).filter(Boolean);
    }
    if (value === "") {
      if (input.required && type !== "str") return undefined;  // the API says "required"
      if (type === "str") return nullable ? null : "";
      return nullable || type === "id" || type === "datetime" ? null : undefined;
    }
    if (type === "int" || type === "id") return parseInt(value, 10);
    if (type === "float") return parseFloat(value);
    return value;
  }

  function collect(form) {
    var body = {};
    form.querySelectorAll("[name][data-type]").forEach(function (input) {
      if (input.disabled || input.dataset.skip) return;
      var value = encode(input);
      if (value !== undefined) body[input.name] = value;
    });
    form.querySelectorAll("fieldset.multi[data-type=ids], fieldset.multi[data-type=strs]")
      .forEach(function (set) {
        var ints = set.dataset.type === "ids";
        body[set.dataset.name] = Array.prototype.slice.call(set.querySelectorAll("input:checked"))
          .map(function (box) { return ints ? parseInt(box.value, 10) : box.value; });
      });
    return body;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    var general = form.querySelector(".form-error");
    if (general) { general.hidden = true; general.textContent = ""; }
  }

  function fieldError(form, name, message) {
    var holder = form.querySelector('[data-field="' + name + '"]');
    var slot = holder && holder.querySelector(".field-error");
    if (!slot) return false;
    slot.textContent = inWords(message);
    slot.hidden = false;
    var input = holder.querySelector("input, select, textarea, fieldset");
    if (input) input.setAttribute("aria-invalid", "true");
    return true;
  }

  function showErrors(form, error) {
    var placed = [];
    var errors = (error.data && error.data.errors) || [];
    errors.forEach(function (item) {
      var name = String(item.field || "").split(".")[0];
      if (fieldError(form, name, item.message || "invalid")) placed.push(name);
    });
    if (!placed.length && error.data && error.status === 422) {
      // A service rule names its field first: "ends_at: … is before …".
      var match = /^([a-z_]+): (.*)$/.exec(error.message);
      if (match && fieldError(form, match[1], match[2])) placed.push(match[1]);
    }
    if (placed.length) {
      var first = form.querySelector('[data-field="' + placed[0] + '"] input, [data-field="' +
        placed[0] + '"] select, [data-field="' + placed[0] + '"] textarea');
      if (first) first.focus();
      return;
    }
    var general = form.querySelector(".form-error");
    if (general) {
      general.textContent = inWords(error.message);
      general.hidden = false;
      general.focus && general.setAttribute("tabindex", "-1");
      general.focus();
    }
  }

  function go(next, data) {
    if (!next) { window.location.reload(); return; }
    window.location.assign(next.replace("{id}", data && data.id !== undefined ? data.id : ""));
  }

  function submitForm(form, event) {
    event.preventDefault();
    clearErrors(form);
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    E.api(form.dataset.method || "POST", form.dataset.url, collect(form)).then(function (data) {
      var key = form.dataset.result;
      var box = form.querySelector(".form-result");
      if (key && data && data[key] && box) {
        box.querySelector(".result-value").value = data[key];
        box.hidden = false;
        if (button) button.disabled = false;
        box.querySelector(".result-value").select();
        return;
      }
      go(form.dataset.next, data);
    }).catch(function (error) {
      if (button) button.disabled = false;
      showErrors(form, error);
    });
  }

  function runAction(button) {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    var errorBox = button.parentNode.querySelector(".action-error");
    button.disabled = true;
    var body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
    E.api(button.dataset.method, button.dataset.url, body).then(function (data) {
      go(button.dataset.next, data);
    }).catch(function (error) {
      button.disabled = false;
      if (errorBox) { errorBox.textContent = inWords(error.message); errorBox.hidden = false; }
    });
  }

  function mediaSlot(slot) {
    var input = slot.querySelector('input[type="file"]');
    var bar = slot.querySelector("progress");
    var status = slot.querySelector('[role="status"]');
    var remove = slot.querySelector(".remove-media");
    if (input) input.addEventListener("change", function () {
      if (!input.files.length) return;
      var file = input.files[0];
      bar.hidden = false;
      E.setProgress(bar, 0, file.size);
      status.textContent = "Uploading " + file.name + "…";
      E.upload(slot.dataset.url, file, function (done, total) {
        E.setProgress(bar, done, total);
        status.textContent = "Uploading " + file.name + ": " + E.formatBytes(done) + " of " +
          E.formatBytes(total);
      }).then(function () {
        status.textContent = "Uploaded " + file.name + ".";
        window.location.reload();
      }).catch(function (error) {
        bar.hidden = true;
        status.textContent = "Not uploaded: " + inWords(error.message);
        status.classList.add("error");
      });
    });
    if (remove) remove.addEventListener("click", function () {
      if (!window.confirm("Remove this file?")) return;
      E.api("DELETE", slot.dataset.url).then(function () { window.location.reload(); })
        .catch(function (error) { status.textContent = inWords(error.message); });
    });
  }

  function copy(button) {
    var input = document.getElementById(button.dataset.copy);
    var status = document.getElementById("copy-status");
    input.select();
    var done = function () { if (status) status.textContent = "Copied " + input.value; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy"); done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.api-form").forEach(function (form) {
      form.addEventListener("submit", function (event) { submitForm(form, event); });
    });
    document.querySelectorAll("button.api-action").forEach(function (button) {
      button.addEventListener("click", function () { runAction(button); });
    });
    document.querySelectorAll(".media-slot").forEach(mediaSlot);
    document.querySelectorAll(".copy-button").forEach(function (button) {
      button.addEventListener("click", function () { copy(button); });
    });
    document.querySelectorAll("[data-colour]").forEach(function (el) {
      el.style.setProperty("--colour", el.dataset.colour);
    });
  });
})();
