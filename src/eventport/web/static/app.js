/* Eventport pages: shared helpers. Plain JS, no build step.
 * Every call goes to the public REST API with the session cookie; unsafe methods carry
 * the page's CSRF token in X-CSRF-Token (the server refuses them otherwise). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /** An Error carrying the HTTP status and the problem+json detail, if any. */
  function ApiError(status, detail, data) {
    var error = new Error(detail || ("HTTP " + status));
    error.status = status;
    error.data = data && typeof data === "object" ? data : null;
    return error;
  }

  /** fetch() a JSON endpoint; resolves to the parsed body (or null for 204). */
  function api(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      if (response.status === 204) return null;
      var type = response.headers.get("content-type") || "";
      var parsed = type.indexOf("json") >= 0 ? response.json() : response.text();
      return parsed.then(function (data) {
        if (!response.ok) {
          var detail = data && typeof data === "object" ? (data.detail || data.title) : "";
          throw ApiError(response.status, detail || response.statusText, data);
        }
        return data;
      });
    });
  }

  /** Decimal units, as the server renders them (1 KB = 1000 bytes). */
  function formatBytes(size) {
    if (size === null || size === undefined) return "—";
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var value = Number(size);
    var unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return unit === 0 ? value + " bytes" : value.toFixed(1) + " " + units[unit];
  }

  function formatDate(iso) {
    if (!iso) return "—";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return iso;
    return date.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
    });
  }

  /** Build an element with text content only (no HTML from data ever reaches the DOM). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  /** Set a <progress>: determinate with a total, indeterminate without one. */
  function setProgress(bar, done, total) {
    if (total > 0) {
      bar.max = total;
      bar.value = Math.min(done, total);
    } else {
      bar.removeAttribute("value");
    }
  }

  /** Save a file through a temporary link, so the page itself never navigates away. */
  function download(url) {
    var link = el("a", { href: url, download: "" });
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  /** PUT a file as multipart (field "file") with upload progress; resolves to the JSON. */
  function upload(url, file, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
      };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(ApiError(xhr.status, data && (data.detail || data.title), data));
      };
      xhr.onerror = function () { reject(ApiError(0, "the upload was interrupted")); };
      var body = new FormData();
      body.append("file", file);
      xhr.send(body);
    });
  }

  window.Eventport = {
    api: api, formatBytes: formatBytes, formatDate: formatDate, el: el,
    setProgress: setProgress, download: download, csrfToken: csrfToken, upload: upload
  };
})();
