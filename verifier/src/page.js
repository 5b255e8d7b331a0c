// verify.html's interface: drop files, read the verdict. The checks live in verify.js.
import {credentialText, documentKind, skills, Sources, verifyCredential} from './verify.js';

const VERDICTS = {
  verified: ['OK', 'Genuine and still valid'],
  invalid: ['FAIL', 'Do not accept this credential'],
  revoked: ['FAIL', 'Revoked by its issuer'],
  suspended: ['FAIL', 'Suspended by its issuer'],
  expired: ['FAIL', 'Expired'],
  'not-yet-valid': ['FAIL', 'Not yet valid'],
  unchecked: ['??', 'Not fully checked: neither good nor bad yet'],
  // a valid signature under a name nobody vouches for: anyone could have made this file
  unbound: ['NOTE', 'Signature valid, but no domain vouches for the issuer: the name is only claimed']
};
const MARKS = {passed: 'ok', failed: 'FAIL', 'not-applicable': '--', 'could-not-check': '??'};

const $ = id => document.getElementById(id);
let dropped = [];
let generation = 0; // only the latest run may write the results

function element(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for(const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, v);
  }
  for(const child of children) {
    node.append(child);
  }
  return node;
}

async function readAll(files) {
  const out = [];
  for(const file of files) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      out.push({name: file.name, doc: JSON.parse(credentialText(file.name, bytes))});
    } catch(e) {
      out.push({name: file.name, error: e instanceof SyntaxError ? `${file.name}: not a JSON credential or a baked badge image` : e.message});
    }
  }
  return out;
}

function renderReport(name, report) {
  const unbound = report.verdict === 'verified' && report.checks.some(c => c.check === 'issuer' && c.caution);
  const verdict = unbound ? 'unbound' : report.verdict;
  const [mark, headline] = VERDICTS[verdict];
  const card = element('section', {class: `report ${verdict}`, 'data-verdict': verdict});
  const subject = report.credential?.credentialSubject ?? {};
  const title = subject.achievement?.name || report.credential?.name || name;
  card.append(element('h2', {}, `${mark} ${headline}`));
  card.append(element('p', {class: 'what'}, `${title} — ${name}`));
  if(report.reason && report.verdict !== 'verified') {
    card.append(element('p', {class: 'reason', 'data-testid': 'reason'}, report.reason));
  }
  const issuer = report.checks.find(c => c.check === 'issuer');
  if(issuer) {
    const bound = issuer.outcome === 'passed' && !issuer.caution;
    card.append(element('p', {class: `issuer ${bound ? 'bound' : 'unbound'}`, 'data-testid': 'issuer'},
      `Issuer: ${report.issuer?.name ?? ''} — ${issuer.message}`));
  }
  const status = report.checks.find(c => c.check === 'status');
  if(status) {
    card.append(element('p', {class: 'status', 'data-testid': 'status'}, `Status: ${status.message}`));
  }
  const rows = skills(report.credential);
  if(rows.length) {
    const table = element('table', {class: 'skills', 'data-testid': 'skills'},
      element('tr', {}, element('th', {}, 'skill'), element('th', {}, 'score'), element('th', {}, 'needed')));
    for(const row of rows) {
      table.append(element('tr', {}, element('td', {}, String(row.name ?? '')),
        element('td', {}, row.value === null ? '' : `${row.value}${row.valueMax !== null ? ` of ${row.valueMax}` : ''}`),
        element('td', {}, row.required === null ? '' : String(row.required))));
    }
    card.append(element('h3', {}, 'Skills and scores (as the credential states them)'), table);
  }
  const checks = element('table', {class: 'checks', 'data-testid': 'checks'});
  for(const c of report.checks) {
    checks.append(element('tr', {'data-check': c.check, 'data-outcome': c.outcome},
      element('td', {}, c.check), element('td', {}, c.caution ? 'NOTE' : MARKS[c.outcome]), element('td', {}, c.message)));
  }
  card.append(element('h3', {}, 'Each check'), checks);
  return card;
}

async function run() {
  const mine = ++generation;
  document.body.dataset.started = String(mine);
  const results = $('results');
  results.replaceChildren(element('p', {}, 'Checking…'));
  const read = await readAll(dropped);
  const documents = read.filter(r => r.doc).map(r => r.doc);
  const sources = new Sources({online: $('online').checked, files: documents});
  const out = [];
  for(const item of read) {
    if(item.error) {
      out.push(element('section', {class: 'report invalid', 'data-verdict': 'unreadable'}, element('h2', {}, 'FAIL'),
        element('p', {class: 'reason', 'data-testid': 'reason'}, item.error)));
      continue;
    }
    const kind = documentKind(item.doc);
    if(kind === null) {
      out.push(element('section', {class: 'report invalid', 'data-verdict': 'unreadable'}, element('h2', {}, 'FAIL'),
        element('p', {class: 'reason', 'data-testid': 'reason'},
          `${item.name}: not a credential (nor a DID document, status list or notices file that helps check one)`)));
      continue;
    }
    if(kind !== 'credential') {
      continue; // a DID document, status list or notices file: used by the checks
    }
    try {
      const report = await verifyCredential(item.doc, {sources, recipient: $('recipient').value || null});
      out.push(renderReport(item.name, report));
    } catch(e) {
      out.push(element('section', {class: 'report invalid', 'data-verdict': 'invalid'}, element('h2', {}, 'FAIL'),
        element('p', {class: 'reason', 'data-testid': 'reason'}, `${item.name}: ${e.message}`)));
    }
  }
  if(!out.length) {
    out.push(element('p', {}, 'No credential among the dropped files (DID documents and status lists only help check one).'));
  }
  if(mine !== generation) {
    return;
  }
  results.replaceChildren(...out);
  document.body.dataset.done = String(mine);
}

function take(files) {
  dropped = [...dropped, ...files];
  $('files').textContent = dropped.map(f => f.name).join(', ');
  run();
}

window.addEventListener('DOMContentLoaded', () => {
  const zone = $('drop');
  zone.addEventListener('dragover', e => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', e => {
    e.preventDefault();
    zone.classList.remove('over');
    take([...e.dataTransfer.files]);
  });
  $('pick').addEventListener('change', e => take([...e.target.files]));
  $('clear').addEventListener('click', () => {
    dropped = [];
    $('files').textContent = '';
    $('results').replaceChildren();
  });
  for(const id of ['online', 'recipient']) {
    $(id).addEventListener('change', () => dropped.length && run());
  }
  document.body.dataset.ready = 'true';
});
