// Vigil review UI: reveal and re-blur, blur strength, keyboard shortcuts.
// Everything works without this script too (plain forms); it adds the
// protections that need the browser: re-blurring when the reviewer leaves
// an item, and the shortcuts.
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  // The time-based break reminder, for a reviewer who stays on one page.
  var breakTimer = document.getElementById("break-timer");
  if (breakTimer) {
    var dueIn = parseInt(breakTimer.dataset.dueIn, 10);
    if (dueIn >= 0) {
      setTimeout(function () { breakTimer.hidden = false; }, dueIn * 1000);
    }
  }

  // Blur strength, remembered in this browser.
  var BLUR_KEY = "vigil.blur";
  var slider = document.getElementById("blur-strength");
  function applyBlur(px) {
    document.documentElement.style.setProperty("--blur", px + "px");
  }
  var saved = parseInt(localStorage.getItem(BLUR_KEY) || "", 10);
  if (saved >= 4 && saved <= 40) {
    applyBlur(saved);
    if (slider) slider.value = String(saved);
  }
  if (slider) {
    slider.addEventListener("input", function () {
      applyBlur(slider.value);
      localStorage.setItem(BLUR_KEY, slider.value);
    });
  }

  // Reveal and re-blur.
  var box = document.getElementById("media-box");
  var revealForm = document.getElementById("reveal-form");
  var revealBtn = document.getElementById("reveal");
  var reblurBtn = document.getElementById("reblur");
  var caption = document.getElementById("media-state");
  var revealed = false;

  function mediaEl() {
    return document.getElementById("media") || document.getElementById("media-video");
  }

  function blurredImage() {
    var img = document.createElement("img");
    img.id = "media";
    img.className = "media blurred";
    img.alt = "Case media, blurred and greyscale";
    img.src = box.dataset.preview;
    return img;
  }

  function showOriginal(url, focusReblur) {
    var old = mediaEl();
    var el;
    if (box.dataset.video === "true") {
      // Never autoplay, start muted; controls only now that it is revealed.
      el = document.createElement("video");
      el.id = "media-video";
      el.className = "media";
      el.muted = true;
      el.defaultMuted = true;
      el.autoplay = false;
      el.controls = true;
      el.preload = "metadata";
      el.setAttribute("aria-label", "Case media, revealed");
      el.src = url;
    } else {
      el = document.createElement("img");
      el.id = "media";
      el.className = "media";
      el.alt = "Case media, revealed";
      el.src = url;
    }
    old.replaceWith(el);
    revealed = true;
    box.dataset.revealed = "true";
    if (caption) caption.textContent = "Revealed. It blurs again when you leave this case or this window.";
    if (revealBtn) revealBtn.hidden = true;
    if (reblurBtn) {
      reblurBtn.hidden = false;
      // Keep the keyboard where the reviewer was: on the control that
      // undoes what they just did.
      if (focusReblur) reblurBtn.focus();
    }
  }

  function reblur() {
    if (!box) return;
    var el = mediaEl();
    if (!el) return;
    if (!revealed && el.classList.contains("blurred")) return;
    if (el.tagName === "VIDEO") {
      el.pause();
      el.removeAttribute("src");
      el.load();
    }
    el.replaceWith(blurredImage());
    revealed = false;
    box.dataset.revealed = "false";
    if (caption) caption.textContent = "Blurred and greyscale. Revealing is logged.";
    var hadFocus = document.activeElement === reblurBtn;
    if (revealBtn) {
      revealBtn.hidden = false;
      if (hadFocus) revealBtn.focus();
    }
    if (reblurBtn) reblurBtn.hidden = true;
  }

  // A classifier score's frame time shows that frame: in the revealed
  // video, or as the blurred still of that moment.
  document.querySelectorAll("a.frame-time").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      var el = box && mediaEl();
      if (!el) return;
      ev.preventDefault();
      var t = parseFloat(a.dataset.t);
      if (el.tagName === "VIDEO") {
        el.pause();
        el.currentTime = t;
      } else {
        el.src = a.href;
        el.alt = "Case media, blurred and greyscale (the frame at " + a.textContent + ")";
      }
    });
  });

  if (box) {
    // A page loaded right after a reveal without script shows the original;
    // it is still re-blurred when the reviewer leaves.
    var first = mediaEl();
    if (first && !first.classList.contains("blurred")) {
      revealed = true;
      if (revealBtn) revealBtn.hidden = true;
      if (reblurBtn) reblurBtn.hidden = false;
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") reblur();
    });
    window.addEventListener("blur", reblur);
    window.addEventListener("pagehide", reblur);
  }
  if (reblurBtn) reblurBtn.addEventListener("click", reblur);

  if (revealForm) {
    revealForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      // Disabling the button takes the focus away; remember who had it.
      var hadFocus = document.activeElement === revealBtn;
      revealBtn.disabled = true;
      fetch(revealForm.action, {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok) throw new Error(body.error ? body.error.message : "reveal failed");
          showOriginal(body.url, hadFocus);
        });
      }).catch(function (err) {
        if (caption) caption.textContent = "Could not reveal: " + err.message;
      }).finally(function () {
        revealBtn.disabled = false;
      });
    });
  }

  // Help overlay.
  var help = document.getElementById("help");
  var helpOpen = document.getElementById("help-open");
  var helpClose = document.getElementById("help-close");
  var returnFocus = null;
  function toggleHelp(show) {
    if (!help) return;
    if (show) {
      returnFocus = document.activeElement;
      help.hidden = false;
      helpClose.focus();
    } else {
      help.hidden = true;
      if (returnFocus) returnFocus.focus();
    }
  }
  if (helpOpen) helpOpen.addEventListener("click", function () { toggleHelp(true); });
  if (helpClose) helpClose.addEventListener("click", function () { toggleHelp(false); });

  // Decision shortcuts arm the form: the verdict is chosen and the submit
  // button focused, so one more deliberate key (Enter) submits.
  var decideForm = document.getElementById("decide-form");
  var decideSubmit = document.getElementById("decide-submit");
  var verdictNames = { c: "confirmed", f: "false_positive", e: "escalate" };
  var verdictLabels = { confirmed: "Confirmed", false_positive: "False positive", escalate: "Escalate" };
  function arm(verdict) {
    if (!decideForm) return;
    var radio = document.getElementById("verdict-" + verdict);
    if (!radio) return; // an escalated case cannot be escalated again
    radio.checked = true;
    decideForm.classList.add("armed");
    decideSubmit.textContent = "Submit: " + verdictLabels[verdict] + " (Enter)";
    decideForm.scrollIntoView({ block: "nearest" });
    decideSubmit.focus();
  }
  if (decideForm) {
    decideForm.addEventListener("change", function (ev) {
      if (ev.target.name === "verdict") decideSubmit.textContent = "Submit: " + verdictLabels[ev.target.value];
    });
  }

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
    if (help && !help.hidden) {
      if (ev.key === "Escape" || ev.key === "?") {
        ev.preventDefault();
        toggleHelp(false);
      }
      return;
    }
    if (typing(ev.target)) return;
    switch (ev.key) {
      case "?":
        ev.preventDefault();
        toggleHelp(true);
        return;
      case "c":
      case "f":
      case "e":
        if (decideForm) {
          ev.preventDefault();
          arm(verdictNames[ev.key]);
        }
        return;
      case "r":
        // Arms the reveal like a decision: focus the button; Enter reveals.
        if (revealBtn && !revealBtn.hidden) {
          ev.preventDefault();
          revealBtn.focus();
        }
        return;
      case "b":
        if (revealed) {
          ev.preventDefault();
          reblur();
        }
        return;
      case "n":
        var next = document.getElementById("next-case");
        if (next) {
          ev.preventDefault();
          window.location.assign(next.href);
        }
        return;
    }
  });
})();
