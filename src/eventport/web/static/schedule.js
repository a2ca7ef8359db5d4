/* The schedule view: places each session by its start and length (minutes from the
 * day's first hour, in data-* attributes), since the page's CSP allows no inline styles. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".timetable").forEach(function (table) {
      var scale = Number(table.dataset.pxPerMinute || 2);
      var height = Number(table.dataset.minutes) * scale;
      table.style.setProperty("--rooms", table.dataset.rooms);
      table.style.setProperty("--hour-height", (60 * scale) + "px");
      table.querySelectorAll(".tt-column, .tt-times").forEach(function (column) {
        column.style.height = height + "px";
      });
      table.querySelectorAll(".tt-slot").forEach(function (slot) {
        slot.style.top = (Number(slot.dataset.offset) * scale) + "px";
        slot.style.height = Math.max(Number(slot.dataset.length) * scale - 2, 18) + "px";
        if (slot.dataset.lanes) {  // overlapping sessions in one room share its width
          var share = 100 / Number(slot.dataset.lanes);
          slot.style.left = "calc(" + (share * Number(slot.dataset.lane)) + "% + 2px)";
          slot.style.width = "calc(" + share + "% - 4px)";
          slot.style.right = "auto";
        }
      });
    });
  });
})();
