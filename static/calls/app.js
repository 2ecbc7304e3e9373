/* cipdash live pages: what htmx cannot do from the templates.
 *
 * The refreshing region carries its own refresh (hx-get, hx-trigger "every 2s", the feed
 * version it shows in hx-headers, hx-sync): htmx polls, and keeps the page as it is when the
 * server answers 204 for an unchanged version. Here: the pace the agent chose, written into
 * that trigger (none while paused or while the tab is hidden); timers ticking from the
 * server's clock, so a wrong PC clock cannot show negatives; the new-call cue, sound and
 * desktop alerts, the screen-reader announcer; the scroll place and open sections across a
 * swap.
 */
(function () {
  "use strict";

  var INTERVAL_KEY = "cipdash:refresh-seconds";
  var SOUND_KEY = "cipdash:sound";
  var NOTIFY_KEY = "cipdash:notify";
  var NOTIFIED_PREFIX = "cipdash:notified:";
  // Besides its pace, the region refreshes on this event (sent when the tab shows again or
  // the agent picks a pace); templates/calls/_refresh_attrs.html names it too.
  var REFRESH_EVENT = "cipdash:refresh";
  var clockOffset = null; // server time minus browser time, in ms
  var lastUpdate = Date.now();
  var seenCalls = null;

  function region() {
    return document.querySelector("#live-region, #detail-region, #activity-region");
  }

  function store(key, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(key);
      window.localStorage.setItem(key, value);
    } catch (e) {
      /* private mode: preferences last for this page only */
    }
    return null;
  }

  var syncedServerNow = 0;

  /* Only a freshly rendered region carries a new server time; htmx may fire its swap events
   * for an unchanged (204) answer too, and re-reading the old stamp would freeze the timers. */
  function syncClock(el) {
    var serverNow = el && Number(el.getAttribute("data-server-now"));
    if (!serverNow || serverNow === syncedServerNow) return;
    syncedServerNow = serverNow;
    var measured = serverNow - Date.now();
    // The stamp was taken before the response travelled, so a measurement can only be late:
    // keep the largest one, so timers never step backwards, unless the PC clock itself jumped.
    if (clockOffset === null || measured > clockOffset || clockOffset - measured > 5000) {
      clockOffset = measured;
    }
  }

  function formatDuration(totalSeconds) {
    var total = Math.max(0, Math.floor(totalSeconds));
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var seconds = total % 60;
    var mm = hours ? String(minutes).padStart(2, "0") : String(minutes);
    var text = mm + ":" + String(seconds).padStart(2, "0");
    return hours ? hours + ":" + text : text;
  }

  function tickTimers() {
    var now = Date.now() + (clockOffset || 0);
    document.querySelectorAll("time.timer[data-since]").forEach(function (el) {
      var since = Number(el.getAttribute("data-since"));
      if (!since) return;
      var until = Number(el.getAttribute("data-until")) || now;
      el.textContent = formatDuration((until - since) / 1000);
    });
    var updated = document.querySelector("[data-updated]");
    if (updated) {
      var ago = Math.round((Date.now() - lastUpdate) / 1000);
      updated.textContent = ago < 2 ? "updated just now" : "updated " + ago + " s ago";
      var interval = refreshSeconds();
      updated.classList.toggle("is-late", interval > 0 && ago > Math.max(10, interval * 3));
    }
  }

  function refreshSeconds() {
    var select = document.querySelector("[data-refresh-interval]");
    if (select) return Number(select.value);
    var saved = Number(store(INTERVAL_KEY));
    return saved > 0 ? saved : 2;
  }

  /* The region's trigger at the pace chosen, or only the refresh event while paused or while
   * the tab is hidden. (A condition in the trigger itself, "every 2s [...]", would need eval,
   * which the page's CSP forbids.) Returns whether the trigger changed. */
  function pace(el) {
    if (!el || !el.hasAttribute("data-poll")) return false;
    // A region with a pace of its own (the Activity page's minute) keeps it.
    var fixed = Number(el.getAttribute("data-poll-seconds"));
    var seconds = document.hidden ? 0 : fixed || refreshSeconds();
    var trigger = (seconds > 0 ? "every " + seconds + "s, " : "") + REFRESH_EVENT;
    if (el.getAttribute("hx-trigger") === trigger) return false;
    el.setAttribute("hx-trigger", trigger);
    return true;
  }

  /* After a new pace or a visibility change: htmx re-reads the trigger, and a running
   * refresh starts with a refresh at once. */
  function repace() {
    var el = region();
    if (!el || !window.htmx) return;
    if (pace(el)) window.htmx.process(el);
    if (el.hasAttribute("data-poll") && !document.hidden && refreshSeconds() > 0) {
      window.htmx.trigger(el, REFRESH_EVENT);
    }
  }

  function callsIn(el) {
    var ids = {};
    if (!el) return ids;
    el.querySelectorAll("[data-call-id]").forEach(function (row) {
      ids[row.getAttribute("data-call-id")] = row;
    });
    return ids;
  }

  function announce(text) {
    var live = document.querySelector("[data-announcer]");
    if (!live) return;
    live.textContent = "";
    window.setTimeout(function () {
      live.textContent = text;
    }, 50);
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    var audio = new Context();
    var tone = audio.createOscillator();
    var gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  /* Sound and desktop alerts fire once per call per user, even with several tabs open:
   * the first tab to claim the call's key in localStorage (under a Web Lock) plays it. */
  function alertOnce(callId, text) {
    var wantsSound = store(SOUND_KEY) === "1";
    var wantsNotice = store(NOTIFY_KEY) === "1" && "Notification" in window;
    if (!wantsSound && !wantsNotice) return;
    var user = document.body.getAttribute("data-user") || "anon";
    var key = NOTIFIED_PREFIX + user + ":" + callId;
    function claim() {
      if (store(key)) return;
      store(key, String(Date.now()));
      if (wantsSound) beep();
      if (wantsNotice && Notification.permission === "granted") {
        new Notification("New call", { body: text, tag: "cipdash-call-" + callId });
      }
    }
    if (navigator.locks && navigator.locks.request) {
      navigator.locks.request("cipdash-alerts", claim);
    } else {
      claim();
    }
  }

  function pruneAlertKeys() {
    try {
      var cutoff = Date.now() - 24 * 3600 * 1000;
      for (var i = window.localStorage.length - 1; i >= 0; i--) {
        var key = window.localStorage.key(i);
        if (key && key.indexOf(NOTIFIED_PREFIX) === 0 && Number(window.localStorage.getItem(key)) < cutoff) {
          window.localStorage.removeItem(key);
        }
      }
    } catch (e) {
      /* nothing to prune */
    }
  }

  function markNewCalls(el) {
    var current = callsIn(el);
    if (seenCalls === null || el.id !== "live-region") {
      seenCalls = current;
      return;
    }
    var fresh = [];
    Object.keys(current).forEach(function (id) {
      if (!seenCalls[id]) fresh.push(current[id]);
    });
    seenCalls = current;
    fresh.forEach(function (row) {
      row.classList.add("is-new");
      var text = (row.getAttribute("data-caller") || "Unknown caller") +
        (row.getAttribute("data-campaign") ? " for " + row.getAttribute("data-campaign") : "");
      alertOnce(row.getAttribute("data-call-id"), text);
    });
    if (fresh.length === 1) {
      var row = fresh[0];
      announce("New call from " + (row.getAttribute("data-caller") || "unknown caller"));
    } else if (fresh.length > 1) {
      announce(fresh.length + " new calls");
    }
  }

  function setUpControls() {
    var controls = document.querySelector("[data-refresh-controls]");
    if (!controls) return;
    controls.hidden = false;
    var select = controls.querySelector("[data-refresh-interval]");
    var saved = store(INTERVAL_KEY);
    if (saved !== null && select.querySelector('option[value="' + saved + '"]')) select.value = saved;
    select.addEventListener("change", function () {
      store(INTERVAL_KEY, select.value);
      repace();
    });
    var sound = controls.querySelector("[data-opt-sound]");
    sound.checked = store(SOUND_KEY) === "1";
    sound.addEventListener("change", function () {
      store(SOUND_KEY, sound.checked ? "1" : "0");
    });
    var notice = controls.querySelector("[data-opt-notify]");
    notice.checked = store(NOTIFY_KEY) === "1";
    if (!("Notification" in window)) notice.disabled = true;
    notice.addEventListener("change", function () {
      store(NOTIFY_KEY, notice.checked ? "1" : "0");
      if (notice.checked && Notification.permission === "default") Notification.requestPermission();
    });
  }

  var openDetails = [];
  var scrolled = null; // the scroll position before a swap
  document.addEventListener("htmx:beforeSwap", function () {
    scrolled = { x: window.scrollX, y: window.scrollY };
    openDetails = [];
    document.querySelectorAll("details[id][open]").forEach(function (d) {
      openDetails.push(d.id);
    });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var status = event.detail.xhr && event.detail.xhr.status;
    if (status >= 200 && status < 300) lastUpdate = Date.now(); // 204 included: nothing changed
  });
  /* Replacing the region must not move the agent (htmx puts the focus back itself). */
  function restoreScroll() {
    if (scrolled && (window.scrollX !== scrolled.x || window.scrollY !== scrolled.y)) {
      window.scrollTo(scrolled.x, scrolled.y);
    }
  }

  document.addEventListener("htmx:afterSettle", restoreScroll);
  document.addEventListener("htmx:afterSwap", function () {
    restoreScroll();
    openDetails.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = true;
    });
    var el = region();
    pace(el); // htmx reads the new region's trigger once it settles
    if (!el || el.getAttribute("data-server-now") === String(syncedServerNow)) return;
    syncClock(el);
    markNewCalls(el);
    tickTimers();
  });

  document.addEventListener("visibilitychange", repace);

  document.addEventListener("DOMContentLoaded", function () {
    var el = region();
    syncClock(el);
    seenCalls = callsIn(el);
    setUpControls();
    pruneAlertKeys();
    if (pace(el) && window.htmx) window.htmx.process(el);
    tickTimers();
    window.setInterval(tickTimers, 1000);
  });
})();
