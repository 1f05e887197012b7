// Pinion's one script: small progressive enhancements. Every page works
// without it. Served from /static (the CSP allows no inline script and
// nothing from elsewhere).
"use strict";

// Add Credential on the Authenticate screens opens the overlay as a modal
// dialog instead of a new page. Its form still submits normally, so Save
// and Authorize navigate the whole window exactly as without the dialog.
function openCredentialDialog(link) {
  fetch(link.href, { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    })
    .then(function (text) {
      var doc = new DOMParser().parseFromString(text, "text/html");
      var overlay = doc.querySelector("section.overlay");
      if (!overlay) throw new Error("no overlay");
      var dialog = document.createElement("dialog");
      dialog.className = "overlay-dialog";
      dialog.setAttribute("aria-labelledby", "overlay-title");
      overlay.removeAttribute("role");
      dialog.appendChild(document.importNode(overlay, true));
      var cancel = dialog.querySelector(".buttons a.button");
      if (cancel) {
        cancel.addEventListener("click", function (event) {
          event.preventDefault();
          dialog.close();
        });
      }
      dialog.addEventListener("close", function () { dialog.remove(); });
      document.body.appendChild(dialog);
      dialog.showModal();
      var first = dialog.querySelector("input[type=text]");
      if (first) first.focus();
    })
    .catch(function () { window.location.href = link.href; });
}

document.querySelectorAll("a.tile.add[href^='/credentials/new']").forEach(function (link) {
  link.addEventListener("click", function (event) {
    if (typeof HTMLDialogElement !== "function") return;
    event.preventDefault();
    openCredentialDialog(link);
  });
});

// A run's page follows the run live: it polls the run's JSON and updates
// the status and per-stream counts; once the run ends it reloads, so the
// final page (with any errors) is the server's.
document.querySelectorAll("[data-run-progress]").forEach(function (box) {
  if (box.getAttribute("data-final") === "true") return;
  var refresh = box.querySelector(".refresh");
  if (refresh) refresh.hidden = true;
  var url = box.getAttribute("data-run-progress");
  function row(stream) {
    var rows = box.querySelectorAll("tr[data-stream]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-stream") === stream) return rows[i];
    }
    var tr = document.createElement("tr");
    tr.setAttribute("data-stream", stream);
    ["stream", "records num", "outcome", "note"].forEach(function (cls) {
      var td = document.createElement("td");
      td.className = cls;
      tr.appendChild(td);
    });
    tr.querySelector(".stream").textContent = stream;
    box.querySelector("table.run-counts tbody").appendChild(tr);
    return tr;
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (run) {
        var status = box.querySelector(".run-status");
        status.textContent = run.status.charAt(0).toUpperCase() + run.status.slice(1);
        status.className = "status run-status run-" + run.status;
        run.streams.forEach(function (count) {
          var tr = row(count.stream);
          tr.querySelector(".records").textContent = String(count.records);
          tr.querySelector(".outcome").textContent = count.outcome || "…";
          tr.querySelector(".note").textContent = count.error || "";
        });
        if (run.status === "succeeded" || run.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        if (refresh) refresh.hidden = false;
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 500);
});

// Copy buttons (the new API token): shown only where the clipboard works.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    navigator.clipboard.writeText(field.value).then(function () {
      button.textContent = "Copied";
    });
  });
});
