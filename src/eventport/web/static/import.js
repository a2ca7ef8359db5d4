/* The Import page: upload with a progress bar (XMLHttpRequest upload events), then
 * follow the import job; a dry run shows its plan and offers to apply it, which imports
 * the upload the dry run kept (POST /api/v1/imports/{id}/apply): the file is sent once. */
(function () {
  "use strict";
  var E = window.Eventport;
  var ACTIVE = { queued: true, running: true };
  var POLL_MS = 500;

  var form = document.getElementById("import-form");
  if (!form) return;
  var fileInput = document.getElementById("import-file");
  var formatSelect = document.getElementById("import-format");
  var zoneSelect = document.getElementById("import-timezone");
  var importNowHint = document.getElementById("import-now-hint");
  var warningsFormat = document.getElementById("import-warnings-format");
  var dryRun = document.getElementById("dry-run");
  var formError = document.getElementById("import-form-error");
  var uploadButton = document.getElementById("upload-button");
  var panel = document.getElementById("import-panel");
  var uploadBar = document.getElementById("upload-progress");
  var uploadStatus = document.getElementById("upload-status");
  var importBar = document.getElementById("import-progress");
  var importStage = document.getElementById("import-stage");
  var summary = document.getElementById("import-summary");
  var errorBox = document.getElementById("import-error");
  var warningsBox = document.getElementById("import-warnings");
  var resultBox = document.getElementById("import-result");
  var importNow = document.getElementById("import-now");
  var eventLink = document.getElementById("import-event-link");

  var formatNames = JSON.parse(form.dataset.formatNames || "{}");
  var target = document.getElementById("import-target");
  var planBox = document.getElementById("import-plan");
  var detected = document.getElementById("import-format-detected");
  var following = null;
  var failures = 0;

  function reset() {
    panel.hidden = false;
    E.setProgress(uploadBar, 0, 1);
    E.setProgress(importBar, 0, 1);
    uploadStatus.textContent = "";
    importStage.textContent = "";
    summary.textContent = "";
    errorBox.hidden = true;
    warningsBox.hidden = true;
    resultBox.hidden = true;
    importNow.hidden = true;
    importNowHint.hidden = true;
    eventLink.hidden = true;
    planBox.hidden = true;
  }

  function showError(message) {
    errorBox.hidden = false;
    errorBox.textContent = message;
    uploadButton.disabled = false;
  }

  function problemDetail(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      return body.detail || body.title || ("HTTP " + xhr.status);
    } catch (e) {
      return "HTTP " + xhr.status;
    }
  }

  /** A 409 naming the event the file already is (told only to people with a role on
   *  it): offer to update that event from the file instead. */
  function offerUpdate(xhr) {
    var body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { return; }
    if (xhr.status !== 409 || !body || !body.event || !body.event.id) return;
    var link = E.el("a", { href: "/import?update=" + encodeURIComponent(body.event.id),
                           text: "Update “" + body.event.name + "” from this file instead" });
    errorBox.appendChild(document.createTextNode(" "));
    errorBox.appendChild(link);
  }

  function upload(dry) {
    var file = fileInput.files[0];
    if (!file) {
      formError.hidden = false;
      formError.textContent = "Choose a file to import first.";
      fileInput.focus();
      return;
    }
    formError.hidden = true;
    reset();
    uploadButton.disabled = true;
    var data = new FormData();
    data.append("file", file);
    if (formatSelect.value) data.append("format", formatSelect.value);
    var query = [];
    if (dry) query.push("dry_run=true");
    if (target.value) query.push("mode=update", "event_id=" + encodeURIComponent(target.value));
    if (zoneSelect.value) query.push("timezone=" + encodeURIComponent(zoneSelect.value));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/imports" + (query.length ? "?" + query.join("&") : ""));
    xhr.setRequestHeader("X-CSRF-Token", E.csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        E.setProgress(uploadBar, event.loaded, event.total);
        uploadStatus.textContent = "Uploaded " + E.formatBytes(event.loaded) + " of " +
          E.formatBytes(event.total);
      }
    });
    xhr.addEventListener("load", function () {
      if (xhr.status !== 202 && xhr.status !== 200 && xhr.status !== 201) {
        showError("Upload refused: " + problemDetail(xhr));
        offerUpdate(xhr);
        return;
      }
      E.setProgress(uploadBar, 1, 1);
      uploadStatus.textContent = "Uploaded " + E.formatBytes(file.size) + ".";
      var job = JSON.parse(xhr.responseText);
      panel.dataset.dryRun = dry ? "true" : "false";
      follow(job);
    });
    xhr.addEventListener("error", function () {
      showError("The upload was interrupted (network error); nothing was imported. Try again.");
    });
    xhr.send(data);
  }

  function follow(job) {
    following = job.id;
    failures = 0;
    show(job);
    if (ACTIVE[job.state]) setTimeout(poll, POLL_MS);
  }

  function poll() {
    var id = following;
    E.api("GET", "/api/v1/imports/" + encodeURIComponent(id)).then(function (job) {
      if (id !== following) return;
      failures = 0;
      show(job);
      if (ACTIVE[job.state]) setTimeout(poll, POLL_MS);
    }).catch(function (error) {
      if (id !== following) return;
      failures += 1;
      importStage.textContent = "Cannot reach the server (" + error.message + "); retrying…";
      setTimeout(poll, Math.min(POLL_MS * Math.pow(2, failures), 8000));
    });
  }

  function counts(result) {
    if (!result || typeof result !== "object") return [];
    var source = result.counts && typeof result.counts === "object" ? result.counts : result;
    return Object.keys(source).filter(function (key) {
      return typeof source[key] === "number";
    }).map(function (key) { return [key.replace(/[_-]/g, " "), source[key]]; });
  }

  function warningText(w) {
    return typeof w === "string" ? w : (w.message || w.detail || JSON.stringify(w));
  }

  /** Warnings grouped by kind (the server's warning_groups, most frequent first): the
   *  heading counts both ("51 warnings of 4 kinds") and each kind folds open to its
   *  warnings; the detected format is shown with them. */
  function showWarnings(job, formatText) {
    var warnings = job.warnings || [];
    var groups = job.warning_groups || warnings.map(function (w) {
      return { kind: warningText(w), count: 1, warnings: [warningText(w)] };
    });
    var list = warningsBox.querySelector("ul");
    list.textContent = "";
    groups.forEach(function (group) {
      var shown = group.warnings.slice(0, 100).map(function (t) { return E.el("li", { text: t }); });
      if (group.count > 100) shown.push(E.el("li", { text: "… and " + (group.count - 100) + " more" }));
      list.appendChild(E.el("li", { className: "warning-kind", "data-count": String(group.count) }, [
        E.el("details", {}, [
          E.el("summary", {}, [E.el("span", { className: "count", text: group.count + " × " }),
                               group.kind]),
          E.el("ul", {}, shown)
        ])
      ]));
    });
    warningsBox.querySelector("h3").textContent = warnings.length + " warning" +
      (warnings.length === 1 ? "" : "s") + " of " + groups.length + " kind" +
      (groups.length === 1 ? "" : "s");
    warningsFormat.textContent = formatText;
    warningsFormat.hidden = !formatText;
    warningsBox.hidden = warnings.length === 0;
    detected.hidden = !formatText || warnings.length > 0;  // shown once, beside them
  }

  /** The dry run's plan: per kind what would be created, updated, deleted, unchanged. */
  function showPlan(plan) {
    planBox.hidden = !plan;
    if (!plan) return;
    var kinds = {};
    ["created", "updated", "deleted", "unchanged"].forEach(function (action) {
      Object.keys(plan[action] || {}).forEach(function (kind) { kinds[kind] = true; });
    });
    var body = planBox.querySelector("tbody");
    body.textContent = "";
    Object.keys(kinds).sort().forEach(function (kind) {
      body.appendChild(E.el("tr", {}, [E.el("th", { scope: "row", text: kind.replace(/[_-]/g, " ") })]
        .concat(["created", "updated", "deleted", "unchanged"].map(function (action) {
          return E.el("td", { text: String((plan[action] || {})[kind] || 0) });
        }))));
    });
    var changes = plan.changes || [];
    var list = planBox.querySelector(".plan-changes ul");
    list.textContent = "";
    changes.slice(0, 200).forEach(function (c) {
      var fields = c.fields && c.fields.length ? " (" + c.fields.join(", ") + ")" : "";
      list.appendChild(E.el("li", { text: c.action + " " + c.kind + " " + c.uuid + fields }));
    });
    planBox.querySelector(".plan-changes summary").textContent = changes.length ?
      changes.length + " change" + (changes.length === 1 ? "" : "s") : "No changes: the event already equals the file";
  }

  function show(job) {
    panel.dataset.state = job.state;
    var p = job.progress || {};
    var dry = panel.dataset.dryRun === "true";
    if (job.state === "succeeded") E.setProgress(importBar, 1, 1);
    else E.setProgress(importBar, p.done || 0, p.total || 0);
    importStage.textContent = ACTIVE[job.state] ?
      String(p.stage || job.state).replace(/[-_]/g, " ") +
        (p.total > 0 ? ": " + p.done + " of " + p.total : "") : "";
    var texts = {
      queued: "Waiting for a worker…", running: "Importing…",
      succeeded: dry ? "Dry run finished: the file can be imported." : "Import finished.",
      failed: dry ? "Dry run failed: the file cannot be imported." : "Import failed; nothing was saved.",
      cancelled: "Import cancelled."
    };
    summary.textContent = texts[job.state] || job.state;
    if (job.state === "failed") showError("Reason: " + (job.error || "the worker gave no reason"));

    var format = job.result && job.result.format;
    var formatText = format ? "Format: " + (formatNames[format] || format) +
      (job.format ? "" : " (detected from the file)") : "";
    detected.textContent = formatText;
    showWarnings(job, formatText);
    showPlan(job.state === "succeeded" && dry ? job.plan : null);

    var rows = counts(job.result);
    var body = resultBox.querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      body.appendChild(E.el("tr", {}, [E.el("th", { scope: "row", text: row[0] }),
                                       E.el("td", { text: String(row[1]) })]));
    });
    resultBox.hidden = !(job.state === "succeeded" && rows.length);

    if (job.state === "succeeded") {
      uploadButton.disabled = false;
      if (dry && job.upload_kept_until && !job.applied_as) {
        importNow.textContent = target.value ?
          "Apply this plan to " + target.options[target.selectedIndex].text.replace(/^Update /, "") :
          "Apply this plan: create the event";
        importNow.hidden = false;
        importNowHint.hidden = false;
        importNow.focus();
      } else if (job.event_id) {
        eventLink.href = "/events/" + encodeURIComponent(job.event_id);
        var name = job.result && (job.result.event_name || (job.result.event && job.result.event.name));
        eventLink.textContent = name ? "Open " + name : "Open the imported event";
        eventLink.hidden = false;
        eventLink.focus();
      }
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    upload(dryRun.checked || !!target.value);  // an update always shows its plan first
  });
  planBox.hidden = true;
  /** Import what the dry run checked, from the upload it kept: no second upload. */
  function applyDryRun(id) {
    importNow.disabled = true;
    E.api("POST", "/api/v1/imports/" + encodeURIComponent(id) + "/apply").then(function (job) {
      importNow.disabled = false;
      importNow.hidden = true;
      importNowHint.hidden = true;
      planBox.hidden = true;
      panel.dataset.dryRun = "false";
      uploadStatus.textContent = "Importing the file the dry run checked (not uploaded again).";
      follow(job);
    }).catch(function (error) {
      importNow.disabled = false;
      importNow.hidden = true;
      importNowHint.hidden = true;
      showError("The plan could not be applied: " + error.message);
    });
  }

  importNow.addEventListener("click", function () { applyDryRun(following); });
  // A dry run from the history (its upload still kept): apply it here, in the panel.
  Array.prototype.forEach.call(document.querySelectorAll("button.apply-kept"), function (button) {
    button.addEventListener("click", function () {
      reset();
      button.disabled = true;
      uploadStatus.textContent = "";
      applyDryRun(button.dataset.jobId);
    });
  });
})();
