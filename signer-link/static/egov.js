// kezekbot signing page, the eGov mobile route: show the route that fits the device first
// (phone: the eGov mobile button; computer: NCALayer with the QR code beside it), let the
// parent switch, and poll the server while the app signs, until the link's outcome is known.
// Everything comes from data- attributes of #signer (CSP forbids inline script).
(function () {
  'use strict';

  var root = document.getElementById('signer');
  if (!root || !root.dataset.egovStatus) {
    return;
  }
  var d = root.dataset;
  var statusEl = document.getElementById('egov-status');
  var backEl = document.getElementById('back');
  var signBtn = document.getElementById('sign');
  var switchBtn = document.getElementById('route-switch');
  var sandboxBtn = document.getElementById('egov-sandbox');
  var POLL_MS = parseInt(d.egovPoll, 10) > 0 ? parseInt(d.egovPoll, 10) : 2000;

  // A phone: a narrow viewport (Telegram's in-app browser included) or a mobile user agent.
  function isPhone() {
    var narrow = window.matchMedia && window.matchMedia('(max-width: 700px)').matches;
    return narrow || /Android|iPhone|iPad|iPod|Mobile/i.test(navigator.userAgent || '');
  }

  function setMode(mode) {
    root.setAttribute('data-mode', mode);
    if (switchBtn) {
      switchBtn.textContent = mode === 'phone' ? switchBtn.dataset.toNcalayer : switchBtn.dataset.toEgov;
      switchBtn.hidden = false;
    }
  }

  setMode(isPhone() ? 'phone' : 'desktop');
  if (switchBtn) {
    switchBtn.addEventListener('click', function () {
      setMode(root.getAttribute('data-mode') === 'phone' ? 'desktop' : 'phone');
    });
  }

  function show(kind, text) {
    statusEl.className = 'status ' + kind;
    statusEl.textContent = text;
    statusEl.hidden = false;
  }

  var done = false;
  var timer = null;
  var lastShown = '';

  function finish(a) {
    done = true;
    clearTimeout(timer);
    root.setAttribute('data-done', '');
    root.setAttribute('data-outcome', a.reason);
    show(a.ok ? 'ok' : 'error', a.message);
    if (signBtn) {
      signBtn.hidden = true;
    }
    if (a.back) {
      backEl.textContent = a.back;
      backEl.hidden = false;
    }
  }

  function render(a) {
    if (a.reason && (a.done || a.ok)) {
      finish(a);
      return;
    }
    var key;
    if (a.reason && a.route === 'egov') {
      // Refused, the link still works: say why and how to try again.
      key = 'r:' + a.reason;
      if (key !== lastShown) {
        root.setAttribute('data-outcome', a.reason);
        show('error', a.message + ' ' + d.egovRetry);
      }
    } else {
      key = 's:' + a.step;
      if (key !== lastShown) {
        show('info', a.step === 'fetched' ? d.egovFetched : a.step === 'opened' ? d.egovOpened : d.egovWaiting);
      }
    }
    lastShown = key;
  }

  function schedule(ms) {
    if (!done) {
      clearTimeout(timer);
      timer = setTimeout(poll, ms);
    }
  }

  function poll() {
    fetch(d.egovStatus, {
      method: 'GET',
      headers: { 'X-CSRF-Token': d.csrf, 'Accept': 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (resp) {
      return resp.json();
    }).then(function (a) {
      if (a && typeof a === 'object' && 'step' in a) {
        render(a);
      } else if (a && a.reason && !a.retry) {
        finish(a); // the page's own error answer: the link is gone
      }
      schedule(POLL_MS);
    }, function () {
      schedule(POLL_MS * 2); // offline for a moment (switching to the app): keep trying
    });
  }

  // Coming back from the app: ask at once instead of waiting for the timer.
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) {
      schedule(0);
    }
  });

  if (sandboxBtn) {
    // The sandbox's fake eGov mobile: it reads the same mobileSign: link a phone would and
    // signs with the demo parent's TEST key. The poll shows what happened.
    sandboxBtn.addEventListener('click', function () {
      sandboxBtn.disabled = true;
      fetch(d.egovSandbox, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ link: d.egovRaw }),
        credentials: 'same-origin',
        cache: 'no-store'
      }).then(function () {
        sandboxBtn.disabled = false;
        schedule(0);
      }, function () {
        sandboxBtn.disabled = false;
      });
    });
  }

  schedule(0);
}());
