/* The Export tab: start an export, follow its progress, download it, manage history.
 * The job lives on the server, so a reload (or a second tab) finds the latest job in
 * the history and resumes following it; nothing about a job is kept in the page. */
(function () {
  "use strict";
  var E = window.Eventport;
  var ACTIVE = { queued: true, running: true };
  var POLL_MS = 500;
  var MAX_BACKOFF_MS = 8000;

  var form = document.getElementById("export-form");
  if (!form) return;
  var eventId = form.dataset.eventId;
  var canManage = form.dataset.canManage === "true";  // pin and delete (organizer, owner)
  var requestedJob = form.dataset.job || "";          // ?job=… from an e-mail's link
  var formatSelect = document.getElementById("format");
  var mediaFieldset = document.getElementById("media-fieldset");
  var archiveFieldset = document.getElementById("archive-fieldset");
  var profileSelect = document.getElementById("profile");
  var recipientsBox = document.getElementById("recipients");
  var mediaBoxes = Array.prototype.slice.call(form.querySelectorAll('input[name="media"]'));
  var estimate = document.getElementById("estimate");
  var formError = document.getElementById("form-error");
  var exportButton = document.getElementById("export-button");

  var panel = document.getElementById("job-panel");
  var summary = document.getElementById("job-summary");
  var bar = document.getElementById("job-progress");
  var stage = document.getElementById("job-stage");
  var errorBox = document.getElementById("job-error");
  var warningsBox = document.getElementById("job-warnings");
  var result = document.getElementById("job-result");
  var downloadButton = document.getElementById("download-button");
  var cancelButton = document.getElementById("cancel-button");
  var historyBody = document.querySelector("#history tbody");
  var historyWrap = document.getElementById("history-wrap");
  var historyEmpty = document.getElementById("history-empty");
  var deletedBox = document.getElementById("deleted-jobs");

  var followed = null;   // id of the job shown in the panel
  var shownState = null; // its state when last shown, to refresh the history on changes
  var pollTimer = null;
  var failures = 0;

  var STATE_TEXT = {
    queued: "Waiting for a worker…",
    running: "Exporting…",
    succeeded: "Export ready.",
    failed: "Export failed.",
    cancelled: "Export cancelled.",
    expired: "This export has expired and its file was removed."
  };

  function acceptsMedia() {
    var option = formatSelect.options[formatSelect.selectedIndex];
    return option && option.dataset.acceptsMedia === "true";
  }

  function isArchive() { return formatSelect.value === "archive"; }

  /** Only what differs from the defaults, so a plain export is the same request as before. */
  function archiveOptions() {
    var options = {};
    if (profileSelect.value !== "full") options.profile = profileSelect.value;
    var keys = recipientsBox.value.split("\n").map(function (line) { return line.trim(); })
      .filter(function (line) { return line; });
    if (keys.length) options.recipients = keys;
    return options;
  }

  function selectedMedia() {
    return mediaBoxes.filter(function (box) { return box.checked; })
      .map(function (box) { return box.value; });
  }

  function updateEstimate() {
    var media = acceptsMedia();
    mediaFieldset.disabled = !media;
    archiveFieldset.hidden = !isArchive();
    if (!media) {
      estimate.textContent = "This format holds the program only; no media files are included.";
      return;
    }
    var bytes = mediaBoxes.reduce(function (sum, box) {
      return sum + (box.checked ? Number(box.dataset.bytes || 0) : 0);
    }, 0);
    estimate.textContent = "Estimated size: " + E.formatBytes(bytes) +
      " of media, plus the program data.";
  }

  // Stages whose done/total count bytes rather than files.
  var BYTE_STAGES = { media: true, upload: true, uploading: true };

  function stageText(job) {
    var p = job.progress || {};
    var name = String(p.stage || job.state).replace(/[-_]/g, " ");
    if (p.total > 0) {
      var percent = Math.floor(100 * Math.min(p.done, p.total) / p.total);
      var amount = BYTE_STAGES[p.stage] ?
        E.formatBytes(p.done) + " of " + E.formatBytes(p.total) : p.done + " of " + p.total;
      return name.charAt(0).toUpperCase() + name.slice(1) + ": " + amount +
        " (" + percent + "%)";
    }
    return name.charAt(0).toUpperCase() + name.slice(1);
  }

  function warningText(warning) {
    if (typeof warning === "string") return warning;
    var parts = [warning.title || warning.path || warning.owner || warning.key || "",
      warning.reason || warning.message || warning.detail || ""].filter(Boolean);
    return parts.length ? parts.join(" — ") : JSON.stringify(warning);
  }

  /** Warnings grouped by what they mean: sessions left out of the schedule files (they
   *  are still in the archive's documents) and media files missing from storage. */
  function warningGroups(warnings) {
    var left = warnings.filter(function (w) { return w && w.type === "unscheduled_session"; });
    var other = warnings.filter(function (w) { return !(w && w.type === "unscheduled_session"); });
    var groups = [];
    if (left.length) {
      groups.push({
        heading: left.length + (left.length === 1 ? " session is" : " sessions are") +
          " not in the schedule files (no room or no time); " +
          (left.length === 1 ? "it is" : "they are") + " still in the archive's documents",
        items: left.map(warningText)
      });
    }
    if (other.length) {
      groups.push({
        heading: other.length + (other.length === 1 ? " file was" : " files were") +
          " left out (missing or unreadable in storage)",
        items: other.map(warningText)
      });
    }
    return groups;
  }

  function showWarnings(job) {
    var list = warningsBox.querySelector("ul");
    list.textContent = "";
    var groups = job.state === "succeeded" ? warningGroups(job.warnings || []) : [];
    groups.forEach(function (group) {
      var inner = E.el("ul", {}, group.items.slice(0, 50).map(function (text) {
        return E.el("li", { text: text });
      }).concat(group.items.length > 50 ?
        [E.el("li", { text: "… and " + (group.items.length - 50) + " more" })] : []));
      list.appendChild(E.el("li", {}, [E.el("strong", { text: group.heading }), inner]));
    });
    warningsBox.hidden = groups.length === 0;
  }

  function showJob(job) {
    if (job.id === followed && shownState && shownState !== job.state) loadHistory(false);
    shownState = job.state;
    panel.hidden = false;
    panel.dataset.jobId = job.id;
    panel.dataset.state = job.state;
    var active = !!ACTIVE[job.state];
    var text = STATE_TEXT[job.state] || job.state;
    if (job.state === "succeeded" && job.warnings && job.warnings.length) {
      text = "Export ready, with notes (below).";
    }
    summary.textContent = text + " (" + job.format + ", started " + E.formatDate(job.created_at) + ")";
    var p = job.progress || {};
    if (job.state === "succeeded") {
      E.setProgress(bar, 1, 1);
    } else {
      E.setProgress(bar, p.done || 0, p.total || 0);
    }
    bar.hidden = !(active || job.state === "succeeded");
    stage.textContent = active ? stageText(job) : "";
    panel.dataset.done = p.done || 0;
    panel.dataset.total = p.total || 0;

    errorBox.hidden = job.state !== "failed";
    errorBox.textContent = job.state === "failed" ?
      "Reason: " + (job.error || "the worker gave no reason") : "";

    showWarnings(job);

    var ready = job.state === "succeeded";
    result.hidden = !ready;
    if (ready) {
      document.getElementById("job-size").textContent = E.formatBytes(job.size) +
        (job.size !== null && job.size !== undefined ? " (" + job.size + " bytes)" : "");
      document.getElementById("job-sha").textContent = job.sha256 || "—";
      document.getElementById("job-expires").textContent = job.pinned ? "never (pinned)" :
        E.formatDate(job.expires_at);
    }
    downloadButton.disabled = !ready;
    downloadButton.textContent = ready ? "Download (" + E.formatBytes(job.size) + ")" : "Download";
    cancelButton.hidden = !active;
    exportButton.disabled = active;
  }

  function follow(job) {
    followed = job.id;
    shownState = null;
    failures = 0;
    showJob(job);
    clearTimeout(pollTimer);
    if (ACTIVE[job.state]) pollTimer = setTimeout(poll, POLL_MS);
    else loadHistory(false);
  }

  function poll() {
    var id = followed;
    E.api("GET", "/api/v1/exports/" + encodeURIComponent(id)).then(function (job) {
      if (id !== followed) return;
      failures = 0;
      showJob(job);
      if (ACTIVE[job.state]) pollTimer = setTimeout(poll, POLL_MS);
    }).catch(function (error) {
      if (id !== followed) return;
      if (error.status === 404 || error.status === 401) {
        summary.textContent = error.status === 401 ?
          "Your session ended; sign in again to follow this export." :
          "This export no longer exists.";
        cancelButton.hidden = true;
        exportButton.disabled = false;
        return;
      }
      // The job keeps running on the server; say so and keep trying, more slowly.
      failures += 1;
      stage.textContent = "Cannot reach the server (" + error.message + "); retrying…";
      pollTimer = setTimeout(poll, Math.min(POLL_MS * Math.pow(2, failures), MAX_BACKOFF_MS));
    });
  }

  function optionsText(job) {
    var options = job.options || {};
    var parts = [];
    if (options.media) parts.push(options.media.length ? options.media.join(", ") : "no media");
    if (options.profile && options.profile !== "full") parts.push(options.profile + " profile");
    if (options.recipients && options.recipients.length) parts.push("encrypted");
    return parts.length ? parts.join(" · ") : "—";
  }

  function actionButton(label, handler, attrs) {
    var button = E.el("button", Object.assign({ type: "button", className: "small", text: label }, attrs || {}));
    button.addEventListener("click", handler);
    return button;
  }

  function historyRow(job) {
    var actions = E.el("div", { className: "row-actions" });
    if (job.state === "succeeded") {
      var link = E.el("a", {
        href: "/api/v1/exports/" + encodeURIComponent(job.id) + "/download",
        download: "", className: "button small", text: "Download",
        "aria-label": "Download " + job.format + " export of " + E.formatDate(job.created_at)
      });
      actions.appendChild(link);
    }
    if (job.state === "succeeded" && canManage) {
      actions.appendChild(actionButton(job.pinned ? "Unpin" : "Pin", function () {
        E.api("PATCH", "/api/v1/exports/" + encodeURIComponent(job.id), { pinned: !job.pinned })
          .then(function () { loadHistory(false); }).catch(reportError);
      }, { "aria-pressed": job.pinned ? "true" : "false",
           title: job.pinned ? "Let retention delete this export" : "Keep this export until unpinned" }));
    }
    if (job.state === "succeeded" && canManage) {  // only a job with a file has one to delete
      actions.appendChild(actionButton("Delete", function () {
        if (!window.confirm("Delete this " + job.format + " export and its file?")) return;
        E.api("DELETE", "/api/v1/exports/" + encodeURIComponent(job.id))
          .then(function () {
            if (followed === job.id) { panel.hidden = true; followed = null; }
            loadHistory(false);
          }).catch(reportError);
      }, { "aria-label": "Delete " + job.format + " export of " + E.formatDate(job.created_at) }));
    }
    var state = E.el("span", { className: "state state-" + job.state, text: job.state,
      title: STATE_TEXT[job.state] || job.state });
    // data-label: the column name, shown beside each value when rows stack on a phone
    var row = E.el("tr", { "data-job-id": job.id, "data-state": job.state }, [
      E.el("td", { "data-label": "Format", text: job.format }),
      E.el("td", { "data-label": "Options", text: optionsText(job) }),
      E.el("td", { "data-label": "State" }, [state].concat(job.pinned ?
        [" ", E.el("span", { className: "pin", text: "pinned" })] : [])),
      E.el("td", { "data-label": "Size", text: job.state === "succeeded" ? E.formatBytes(job.size) : "—" }),
      E.el("td", { "data-label": "Created", className: "nowrap", text: E.formatDate(job.created_at) }),
      E.el("td", { "data-label": "Expires", text: job.pinned ? "never" : E.formatDate(job.expires_at) }),
      E.el("td", { "data-label": "Actions", className: "actions-cell" }, [actions])
    ]);
    return row;
  }

  /** Refresh the table; with `resume`, also show (and follow) the newest job. */
  function loadHistory(resume) {
    return E.api("GET", "/api/v1/events/" + encodeURIComponent(eventId) + "/exports")
      .then(function (data) {
        var all = Array.isArray(data) ? data : (data.items || []);
        // Deleted and expired exports have no file: folded into a list below the table.
        var jobs = all.filter(function (job) { return job.state !== "expired"; });
        var gone = all.filter(function (job) { return job.state === "expired"; });
        historyBody.textContent = "";
        jobs.forEach(function (job) { historyBody.appendChild(historyRow(job)); });
        historyWrap.hidden = jobs.length === 0;
        historyEmpty.hidden = jobs.length !== 0;
        showDeleted(gone);
        if (resume && all.length) {
          var wanted = all.filter(function (job) { return job.id === requestedJob; })[0];
          var active = jobs.filter(function (job) { return ACTIVE[job.state]; })[0];
          follow(wanted || active || jobs[0] || all[0]);
        }
      }).catch(reportError);
  }

  function showDeleted(gone) {
    deletedBox.hidden = gone.length === 0;
    deletedBox.querySelector("summary").textContent = "Deleted or expired (" + gone.length + ")";
    var list = deletedBox.querySelector("ul");
    list.textContent = "";
    gone.forEach(function (job) {
      list.appendChild(E.el("li", { "data-job-id": job.id,
        text: job.format + " · " + optionsText(job) + " · created " + E.formatDate(job.created_at) }));
    });
  }

  /** From the click on, the panel shows the new request, never the previous job. */
  function showPending(format) {
    clearTimeout(pollTimer);
    followed = null;
    panel.hidden = false;
    panel.dataset.jobId = "";
    panel.dataset.state = "requesting";
    summary.textContent = "Starting a " + format + " export…";
    E.setProgress(bar, 0, 0);
    bar.hidden = false;
    stage.textContent = "";
    errorBox.hidden = true;
    warningsBox.hidden = true;
    result.hidden = true;
    downloadButton.disabled = true;
    downloadButton.textContent = "Download";
    cancelButton.hidden = true;
  }

  function reportError(error) {
    formError.hidden = false;
    formError.textContent = error.message;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    formError.hidden = true;
    var body = { format: formatSelect.value };
    if (acceptsMedia()) body.media = selectedMedia();
    if (isArchive()) Object.assign(body, archiveOptions());
    exportButton.disabled = true;
    showPending(body.format);
    E.api("POST", "/api/v1/events/" + encodeURIComponent(eventId) + "/exports", body)
      .then(function (job) {
        follow(job);
        loadHistory(false);
        summary.focus();
      }).catch(function (error) {
        exportButton.disabled = false;
        panel.hidden = true;
        reportError(error);
      });
  });

  cancelButton.addEventListener("click", function () {
    if (!followed) return;
    E.api("POST", "/api/v1/exports/" + encodeURIComponent(followed) + "/cancel")
      .then(function (job) { if (job && job.id) showJob(job); })
      .catch(reportError);
  });

  downloadButton.addEventListener("click", function () {
    if (followed && !downloadButton.disabled) {
      E.download("/api/v1/exports/" + encodeURIComponent(followed) + "/download");
    }
  });

  summary.setAttribute("tabindex", "-1");
  formatSelect.addEventListener("change", updateEstimate);
  mediaBoxes.forEach(function (box) { box.addEventListener("change", updateEstimate); });
  updateEstimate();
  loadHistory(true);
})();
