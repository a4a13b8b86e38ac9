// Progressive enhancement only: every action works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons for integration keys and email addresses.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      const text = source.textContent.trim();
      let said = "Copied";
      try {
        await navigator.clipboard.writeText(text);
      } catch (err) {
        // No clipboard access (plain HTTP, old browser): select it for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        said = "Selected: press Ctrl+C to copy";
      }
      const status = document.getElementById(button.dataset.copy + "-status");
      if (status) status.textContent = said;
    });
  }
  // "Create incidents" cannot be chosen with Events API v2 (the server refuses it too).
  const kind = document.getElementById("integration_type");
  if (kind) {
    const update = () => {
      const v2 = kind.value === "events_api_v2";
      for (const input of document.querySelectorAll("input.only-not-v2")) {
        input.disabled = v2;
        if (v2 && input.checked) {
          const other = document.getElementById("alert_creation_alerts");
          if (other) other.checked = true;
        }
      }
    };
    kind.addEventListener("change", update);
    update();
  }
});
