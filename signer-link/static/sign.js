// kezekbot signing page: fetch the document the server prepared, have NCALayer sign it on this
// computer, send the signature back. No build step, no dependencies; everything the script
// needs comes from data- attributes of #signer (the page has no inline script, CSP forbids it).
(function () {
  'use strict';

  var root = document.getElementById('signer');
  if (!root) {
    return;
  }
  var d = root.dataset;
  var button = document.getElementById('sign');
  var statusEl = document.getElementById('status');
  var backEl = document.getElementById('back');

  // The parent needs time to find the key file and type the password; the server says how long.
  var TIMEOUT_MS = parseInt(d.timeout, 10) > 0 ? parseInt(d.timeout, 10) : 120000;
  var HELLO_MS = 3000; // some NCALayer builds never greet; after this, speak first
  var EKU_AUTH = '1.3.6.1.5.5.7.3.2';
  var EKU_SIGN = '1.3.6.1.5.5.7.3.4';
  var isBind = d.action === 'bind';

  function show(kind, text, withInstallLink) {
    statusEl.className = 'status ' + kind;
    statusEl.textContent = text;
    if (withInstallLink) {
      var a = document.createElement('a');
      a.href = d.install;
      a.textContent = d.install;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      statusEl.appendChild(document.createTextNode(' '));
      statusEl.appendChild(a);
    }
    statusEl.hidden = false;
  }

  function finished(back) {
    button.hidden = true;
    if (back) {
      backEl.textContent = back;
      backEl.hidden = false;
    }
  }

  // Failure is {kind, message?}; kind names a data-msg-* text.
  function failure(kind, message, result) {
    return { kind: kind, message: message, result: result };
  }

  function fetchDocument() {
    return fetch(d.document, {
      method: 'GET',
      headers: { 'X-CSRF-Token': d.csrf, 'Accept': 'application/xml, application/json' },
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (resp) {
      if (resp.ok) {
        return resp.text();
      }
      return resp.json().then(function (j) {
        throw failure('server', j.message, j);
      }, function () {
        throw failure('network');
      });
    }, function () {
      throw failure('network');
    });
  }

  // A module/method error means this NCALayer predates kz.gov.pki.knca.basics: use the legacy
  // commonUtils.signXml instead. A legacy-shaped answer (code, no status) means the same.
  function isMissingModule(msg) {
    if (msg.status === undefined && msg.code !== undefined) {
      return msg.message !== 'action.canceled';
    }
    var text = String(msg.code || '') + ' ' + String(msg.message || '') + ' ' + String(msg.details || '');
    return /module|method|not\s*found|unknown/i.test(text);
  }

  // sign resolves with the signed XML or rejects with a failure.
  function sign(xml) {
    return new Promise(function (resolve, reject) {
      var ws;
      var stage = 'connecting';
      var done = false;
      var helloTimer = null;
      var timer = setTimeout(function () { finish(null, failure('timeout')); }, TIMEOUT_MS);

      function finish(signed, fail) {
        if (done) {
          return;
        }
        done = true;
        clearTimeout(timer);
        clearTimeout(helloTimer);
        try { ws.close(); } catch (e) { /* already closed */ }
        if (signed) {
          resolve(signed);
        } else {
          reject(fail);
        }
      }

      function sendBasics() {
        clearTimeout(helloTimer);
        stage = 'basics';
        show('info', d.msgChoose);
        ws.send(JSON.stringify({
          module: 'kz.gov.pki.knca.basics',
          method: 'sign',
          args: {
            format: 'xml',
            data: xml,
            signingParams: {},
            signerParams: { extKeyUsageOids: [isBind ? EKU_AUTH : EKU_SIGN] },
            locale: d.lang === 'kk' ? 'kk' : 'ru'
          }
        }));
      }

      function sendLegacy() {
        stage = 'legacy';
        ws.send(JSON.stringify({
          module: 'kz.gov.pki.knca.commonUtils',
          method: 'signXml',
          args: ['PKCS12', isBind ? 'AUTHENTICATION' : 'SIGNATURE', xml, '', '']
        }));
      }

      function onBasics(msg) {
        if (msg.status === true) {
          var result = msg.body ? msg.body.result : undefined;
          if (result === undefined || result === null) {
            finish(null, failure('cancelled')); // {"status":true,"body":{}}
            return;
          }
          if (Array.isArray(result)) {
            result = result[0];
          }
          if (typeof result === 'string' && result !== '') {
            finish(result);
          } else {
            finish(null, failure('ncalayer_error'));
          }
          return;
        }
        if (msg.message === 'action.canceled') {
          finish(null, failure('cancelled'));
        } else if (isMissingModule(msg)) {
          sendLegacy();
        } else {
          finish(null, failure('ncalayer_error'));
        }
      }

      function onLegacy(msg) {
        if (String(msg.code) === '200' && typeof msg.responseObject === 'string') {
          finish(msg.responseObject);
        } else if (msg.message === 'action.canceled') {
          finish(null, failure('cancelled'));
        } else {
          finish(null, failure('ncalayer_error'));
        }
      }

      try {
        ws = new WebSocket(d.ncalayer);
      } catch (e) {
        finish(null, failure('not_running'));
        return;
      }
      ws.onopen = function () {
        stage = 'hello';
        helloTimer = setTimeout(function () {
          if (stage === 'hello') {
            sendBasics();
          }
        }, HELLO_MS);
      };
      ws.onerror = function () {
        // Before the greeting an error means nothing listens: NCALayer is not running (or its
        // certificate is not trusted, which the parent fixes the same way: start NCALayer).
        finish(null, failure(stage === 'connecting' || stage === 'hello' ? 'not_running' : 'ncalayer_error'));
      };
      ws.onclose = function () {
        finish(null, failure(stage === 'connecting' || stage === 'hello' ? 'not_running' : 'ncalayer_error'));
      };
      ws.onmessage = function (ev) {
        var msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          finish(null, failure('ncalayer_error'));
          return;
        }
        if (msg === null || typeof msg !== 'object') {
          finish(null, failure('ncalayer_error'));
          return;
        }
        if (stage === 'hello') {
          // {"result":{"version":"1.x"}}
          sendBasics();
        } else if (stage === 'basics') {
          onBasics(msg);
        } else if (stage === 'legacy') {
          onLegacy(msg);
        }
      };
    });
  }

  function submit(signed) {
    show('info', d.msgSending);
    return fetch(d.post, {
      method: 'POST',
      headers: { 'Content-Type': 'application/xml; charset=utf-8', 'X-CSRF-Token': d.csrf, 'Accept': 'application/json' },
      body: signed,
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (resp) {
      return resp.json();
    }, function () {
      throw failure('network');
    });
  }

  var messages = {
    not_running: d.msgNotRunning,
    cancelled: d.msgCancelled,
    timeout: d.msgTimeout,
    ncalayer_error: d.msgNcalayerError,
    network: d.msgNetwork
  };

  function run() {
    button.disabled = true;
    show('info', d.msgConnecting);
    fetchDocument()
      .then(sign)
      .then(submit)
      .then(function (res) {
        root.setAttribute('data-outcome', res.reason);
        show(res.ok ? 'ok' : 'error', res.message);
        if (res.ok || !res.retry) {
          finished(res.back);
        } else {
          button.disabled = false;
        }
      })
      .catch(function (f) {
        f = f || failure('ncalayer_error');
        root.setAttribute('data-outcome', f.kind);
        show('error', f.message || messages[f.kind] || messages.ncalayer_error, f.kind === 'not_running');
        if (f.result && !f.result.retry) {
          root.setAttribute('data-outcome', f.result.reason);
          finished(f.result.back);
        } else {
          button.disabled = false;
        }
      });
  }

  // Without the eGov mobile route a phone cannot sign here: say so before the parent tries.
  var phoneNote = document.getElementById('phone-note');
  if (phoneNote && ((window.matchMedia && window.matchMedia('(max-width: 700px)').matches) ||
      /Android|iPhone|iPad|iPod|Mobile/i.test(navigator.userAgent || ''))) {
    phoneNote.hidden = false;
  }

  button.addEventListener('click', run);
  button.disabled = false;
}());
