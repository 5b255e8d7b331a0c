// The kit's verifier in the browser: the checks of kit/verify.py, on Digital Bazaar's libraries.
//
// Each check gets one outcome, as `credkit verify` reports it: "passed", "failed",
// "not-applicable", or "could-not-check" (a DID document or status list that cannot be obtained:
// neither valid nor invalid). Documents come from the files the user dropped first, then (when
// online is allowed) from the network with fetch(); nothing else is ever loaded. Contexts are the
// kit's own bundled copies (kit/data/contexts, pinned by sha256 there), built into the page.
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as rdfcSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import multikeyContext from '@digitalbazaar/multikey-context';
import vcV2 from '../../kit/data/contexts/credentials-v2.jsonld';
import obV3Published from '../../kit/data/contexts/ob-v3p0-context-3.0.3.json';
import obV3Added from '../../kit/data/contexts/ob-v3p0-context-3.0.3-added-terms.json';
import obExtensions from '../../kit/data/contexts/ob-v3p0-extensions.json';

export const CLOCK_SKEW_MS = 5 * 60 * 1000;
const OB_NAMESPACE = 'https://purl.imsglobal.org/ob/v3p0';
const PNG_KEYWORD = 'openbadgecredential';

// Terms 1EdTech added in place to the published context after our copy was taken (endorsementJwt),
// merged in as kit/contexts.py merges them.
const obV3 = {...obV3Published, '@context': {...obV3Published['@context'], ...obV3Added['@context']}};

const CONTEXTS = new Map([
  ['https://www.w3.org/ns/credentials/v2', vcV2],
  ['https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json', obV3],
  ['https://purl.imsglobal.org/spec/ob/v3p0/extensions.json', obExtensions],
  ...multikeyContext.contexts
]);

// --- reading what was dropped ----------------------------------------------------------------

/** The credential JSON text inside a baked PNG (its one iTXt chunk) or SVG, or the file's text. */
export function credentialText(name, bytes) {
  if(bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 &&
    bytes[2] === 0x4e && bytes[3] === 0x47) {
    return pngCredential(name, bytes);
  }
  const text = new TextDecoder('utf-8', {fatal: false}).decode(bytes);
  if(/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/.test(text)) {
    const svg = new DOMParser().parseFromString(text, 'image/svg+xml');
    if(svg.getElementsByTagName('parsererror').length) {
      throw new Error(`${name}: not a readable SVG image`);
    }
    const found = svg.getElementsByTagNameNS(OB_NAMESPACE, 'credential');
    if(found.length !== 1) {
      throw new Error(`${name}: the SVG image carries no credential ` +
        '(no openbadges:credential element)');
    }
    return found[0].textContent;
  }
  return text;
}

function pngCredential(name, bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const texts = [];
  for(let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    if(type === 'iTXt') {
      const keywordEnd = data.indexOf(0);
      const keyword = new TextDecoder('latin1').decode(data.subarray(0, keywordEnd));
      if(keyword === PNG_KEYWORD) {
        if(data[keywordEnd + 1] !== 0) {
          throw new Error(`${name}: the credential chunk is compressed (Open Badges bakes it uncompressed)`);
        }
        let rest = keywordEnd + 3;
        rest = data.indexOf(0, rest) + 1; // language tag
        rest = data.indexOf(0, rest) + 1; // translated keyword
        texts.push(new TextDecoder('utf-8').decode(data.subarray(rest)));
      }
    }
    if(type === 'IEND') {
      break;
    }
    at += 12 + length;
  }
  if(texts.length !== 1) {
    throw new Error(`${name}: the PNG image carries ${texts.length ? 'more than one credential' :
      'no credential (no openbadgecredential iTXt chunk)'}`);
  }
  return texts[0];
}

/** What a dropped JSON document is: "credential", "status-list", "did-document", "notices". */
export function documentKind(doc) {
  if(!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    return null;
  }
  const types = [].concat(doc.type ?? []);
  if(types.includes('BitstringStatusListCredential')) {
    return 'status-list';
  }
  if(types.includes('VerifiableCredential')) {
    return 'credential';
  }
  if(typeof doc.id === 'string' && doc.id.startsWith('did:') && doc.verificationMethod) {
    return 'did-document';
  }
  if(typeof doc.statusListCredential === 'string' && doc.entries) {
    return 'notices';
  }
  return null;
}

// --- did:web --------------------------------------------------------------------------------

/** The HTTPS URL of a did:web DID document, per the did:web spec (a port is written %3A). */
export function didWebUrl(did) {
  const pieces = did.slice('did:web:'.length).split(':');
  const host = decodeURIComponent(pieces[0]).toLowerCase();
  if(!/^[a-z0-9.-]+(:[0-9]{1,5})?$/.test(host) || host.startsWith('.') || host.includes('..')) {
    throw new Error(`${did}: "${host}" is not a host name`);
  }
  const segments = pieces.slice(1).map(s => {
    const decoded = decodeURIComponent(s);
    if(!/^[A-Za-z0-9._~%-]+$/.test(s) || decoded === '.' || decoded === '..' || decoded.includes('/')) {
      throw new Error(`${did}: path segment "${s}" is not allowed`);
    }
    return decoded;
  });
  return segments.length ? `https://${host}/${segments.join('/')}/did.json` :
    `https://${host}/.well-known/did.json`;
}

export function didWebDomain(did) {
  return new URL(didWebUrl(did)).host;
}

class Unavailable extends Error {}

/** Documents by URL or DID: the dropped files first, then the network when allowed. */
export class Sources {
  constructor({online = true, files = []} = {}) {
    this.online = online;
    this.given = new Map();
    for(const doc of files) {
      const kind = documentKind(doc);
      if(kind === 'did-document' || kind === 'status-list') {
        this.given.set(doc.id, doc);
      } else if(kind === 'notices') {
        this.given.set(`${doc.statusListCredential}.notices.json`, doc);
      }
    }
    this.fetched = new Map();
  }

  async get(key, url, what) {
    if(this.given.has(key)) {
      return {document: this.given.get(key), note: 'from the file given'};
    }
    if(!this.online) {
      throw new Unavailable(`${url} is needed and the network is not used: drop the ${what} file too`);
    }
    if(!this.fetched.has(url)) {
      this.fetched.set(url, this._fetch(url, what));
    }
    return {document: await this.fetched.get(url), note: 'fetched just now'};
  }

  async _fetch(url, what) {
    if(!url.startsWith('https://')) {
      throw new Unavailable(`${url} is not an https:// URL; refusing to fetch it`);
    }
    let response;
    try {
      response = await fetch(url, {headers: {Accept: 'application/json'}, redirect: 'follow',
        cache: 'no-store', credentials: 'omit', signal: AbortSignal.timeout(10000)});
    } catch(e) {
      throw new Unavailable(`cannot reach ${url} (offline, the site is down, or it does not let ` +
        `pages read it from elsewhere): drop the ${what} file instead`);
    }
    if(!response.url.startsWith('https://')) {
      throw new Unavailable(`${url} redirects to ${response.url}, which is not https://`);
    }
    if(!response.ok) {
      throw new Unavailable(`${url} answered HTTP ${response.status}`);
    }
    try {
      return await response.json();
    } catch(e) {
      throw new Unavailable(`${url} did not return JSON`);
    }
  }
}

/** The verification method ``methodId`` if its issuer's DID document lets it make assertions. */
function assertionMethod(didDocument, methodId, source) {
  const did = methodId.split('#')[0];
  const domain = didWebDomain(did);
  if(!didDocument || didDocument.id !== did) {
    throw new Error(`${source} is not the DID document of ${did}`);
  }
  const absolute = ref => typeof ref === 'string' && ref.startsWith('#') ? did + ref : ref;
  const methods = [].concat(didDocument.verificationMethod ?? []);
  const assertion = [].concat(didDocument.assertionMethod ?? []);
  const method = [...methods, ...assertion.filter(m => m && typeof m === 'object')]
    .find(m => m && absolute(m.id) === methodId);
  if(!method) {
    throw new NotVouched(`domain ${domain} does not vouch for this key: ${methodId} is not in ${source}`);
  }
  if(method.revoked) {
    throw new NotVouched(`domain ${domain} revoked this key on ${method.revoked} (compromised): ${methodId}`);
  }
  const referenced = assertion.map(m => absolute(typeof m === 'string' ? m : m?.id));
  if(!referenced.includes(methodId)) {
    throw new NotVouched(`domain ${domain} lists ${methodId} but not for issuing credentials (assertionMethod)`);
  }
  if(absolute(method.controller) !== did) {
    throw new NotVouched(`${methodId} in ${source} is controlled by ${method.controller}, not ${did}`);
  }
  return {...method, id: methodId, controller: did};
}

class NotVouched extends Error {}

function makeDocumentLoader(resolved) {
  return async url => {
    if(CONTEXTS.has(url)) {
      return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
    }
    if(resolved.has(url)) {
      return {contextUrl: null, documentUrl: url, document: resolved.get(url)};
    }
    throw new Error(`the verifier does not load "${url}"`);
  };
}

/** Makes the DID documents and keys behind every proof of ``doc`` loadable, or says why not. */
async function resolveKeys(doc, sources, resolved) {
  const notes = [];
  for(const proof of [].concat(doc.proof ?? [])) {
    const methodId = typeof proof?.verificationMethod === 'object' ?
      proof.verificationMethod.id : proof?.verificationMethod;
    if(typeof methodId !== 'string' || resolved.has(methodId)) {
      continue;
    }
    const did = methodId.split('#')[0];
    if(did.startsWith('did:key:')) {
      // a did:key is its own public key: did:key:z6Mk…#z6Mk…
      const multibase = did.slice('did:key:'.length);
      if(methodId !== `${did}#${multibase}` || !multibase.startsWith('z6Mk')) {
        throw new Error(`${methodId} is not an Ed25519 did:key verification method`);
      }
      const method = {'@context': 'https://w3id.org/security/multikey/v1', id: methodId, type: 'Multikey',
        controller: did, publicKeyMultibase: multibase};
      await Ed25519Multikey.from(method); // a malformed key fails here, with the library's reason
      resolved.set(methodId, method);
      resolved.set(did, {'@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
        id: did, verificationMethod: [method], assertionMethod: [methodId]});
    } else if(did.startsWith('did:web:')) {
      const url = didWebUrl(did);
      const {document, note} = await sources.get(did, url, 'DID document (did.json)');
      const method = assertionMethod(document, methodId, url);
      resolved.set(methodId, {'@context': 'https://w3id.org/security/multikey/v1', ...method});
      resolved.set(did, {...document, '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1']});
      notes.push(`${url}, ${note}`);
    } else {
      throw new Error(`verification method ${methodId} uses a DID method this page cannot resolve (it knows did:key and did:web)`);
    }
  }
  return notes;
}

function errorText(error) {
  const out = [];
  const walk = e => {
    if(!e) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(walk);
    } else if(Array.isArray(e.errors) && e.errors.length) {
      e.errors.forEach(walk);
    } else {
      out.push(e.message || String(e));
    }
  };
  walk(error);
  const text = [...new Set(out)].join('; ') || 'not verified';
  return text === 'Invalid signature.' ? 'the signature does not match: the credential was altered after signing' : text;
}

const suite = new DataIntegrityProof({cryptosuite: rdfcSuite});

/** Verifies the proof (one valid eddsa-rdfc-2022 proof is enough) and that the issuer controls the key. */
async function verifyProof(doc, sources, resolved, atTime) {
  const notes = await resolveKeys(doc, sources, resolved);
  const proofs = [].concat(doc.proof ?? []);
  if(!proofs.some(p => p?.type === 'DataIntegrityProof' && p?.cryptosuite === 'eddsa-rdfc-2022')) {
    if(proofs.some(p => p?.type === 'DataIntegrityProof' && p?.cryptosuite === 'eddsa-jcs-2022')) {
      // neither good nor bad here: `credkit verify` checks it (with a note that Open Badges expect rdfc)
      throw new Unavailable('signed with eddsa-jcs-2022, which this page does not check ' +
        '(Open Badges 3.0 credentials are signed with eddsa-rdfc-2022): check it with credkit verify');
    }
    const suites = proofs.map(p => p?.cryptosuite || p?.type).join(', ') || 'none';
    throw new Error(`no eddsa-rdfc-2022 Data Integrity proof (found: ${suites}); ` +
      'Open Badges 3.0 credentials are signed with eddsa-rdfc-2022');
  }
  const result = await vc.verifyCredential({
    credential: doc, suite, documentLoader: makeDocumentLoader(resolved),
    // dates are judged by the validity check, so a signature is judged on its own
    now: atTime,
    // status is its own check below (vc would only tell "verified" apart from an error)
    checkStatus: async () => ({verified: true})
  });
  if(!result.verified) {
    throw new Error(errorText(result.error || (result.results || []).map(r => r.error)));
  }
  return notes;
}

function signingTime(doc) {
  // a time inside the credential's window, for the signature check alone
  const from = Date.parse(doc.validFrom);
  return Number.isNaN(from) ? new Date() : new Date(from + 1000);
}

function claimedName(doc) {
  const name = typeof doc.issuer === 'object' ? doc.issuer?.name : null;
  return typeof name === 'string' && name ? name : '(no name)';
}

/** Every check on one credential document: the same outcomes as `credkit verify`. */
export async function verifyCredential(doc, {sources = new Sources(), recipient = null, now = new Date()} = {}) {
  const checks = [];
  const add = (check, outcome, message, extra = {}) => checks.push({check, outcome, message, ...extra});
  const report = {checks, statusState: null, issuer: null, credential: doc};
  if(!doc || typeof doc !== 'object' || ![].concat(doc.type ?? []).includes('VerifiableCredential') ||
    [].concat(doc['@context'] ?? [])[0] !== 'https://www.w3.org/ns/credentials/v2') {
    add('format', 'failed', 'not a VC 2.0 credential (a JSON file, or a baked PNG/SVG badge, is expected)');
    return finish(report);
  }
  add('format', 'passed', 'a VC 2.0 credential');
  const issuerId = typeof doc.issuer === 'object' ? doc.issuer?.id : doc.issuer;
  report.issuer = {id: issuerId, name: claimedName(doc), domain: null};
  const resolved = new Map();
  try {
    const notes = await verifyProof(doc, sources, resolved, signingTime(doc));
    const method = [].concat(doc.proof)[0].verificationMethod;
    add('proof', 'passed', `valid eddsa-rdfc-2022 signature by ${method}`);
    if(typeof issuerId === 'string' && issuerId.startsWith('did:web:')) {
      report.issuer.domain = didWebDomain(issuerId);
      add('issuer', 'passed', `domain ${report.issuer.domain} vouches for this key (${notes.join('; ')})`);
    } else {
      add('issuer', 'passed', `identity not bound to any domain: the name "${claimedName(doc)}" is only claimed (issuer ${issuerId})`,
        {caution: true});
    }
  } catch(e) {
    if(e instanceof Unavailable && e.message.startsWith('signed with')) {
      add('proof', 'could-not-check', `could not be checked: ${e.message}`);
      add('issuer', 'could-not-check', 'could not be checked: the signature was not checked');
    } else if(e instanceof Unavailable) {
      add('proof', 'could-not-check', `could not be checked: the issuer's DID document is unavailable: ${e.message}`);
      add('issuer', 'could-not-check', 'could not be checked: the issuer\'s DID document is unavailable');
    } else if(e instanceof NotVouched) {
      add('proof', 'failed', `not made with a key its issuer's domain lists: ${e.message}`);
      add('issuer', 'failed', e.message);
    } else {
      add('proof', 'failed', e.message);
      add('issuer', 'failed', 'no verified signature, so no issuer can be established');
    }
  }

  const from = doc.validFrom ? Date.parse(doc.validFrom) : null;
  const until = doc.validUntil ? Date.parse(doc.validUntil) : null;
  if(from !== null && now.getTime() + CLOCK_SKEW_MS < from) {
    add('validity', 'failed', `not yet valid: validFrom is ${doc.validFrom}`);
  } else if(until !== null && now.getTime() - CLOCK_SKEW_MS >= until) {
    add('validity', 'failed', `expired: validUntil was ${doc.validUntil}`);
  } else {
    add('validity', 'passed', `valid ${doc.validFrom ? `from ${doc.validFrom}` : 'with no start date'}` +
      (doc.validUntil ? ` until ${doc.validUntil}` : ' with no end date'));
  }

  if(doc.credentialStatus) {
    await checkStatusEntry(doc, report, sources, resolved, now, add);
  } else {
    add('status', 'not-applicable', 'the credential has no status entry, so its issuer cannot revoke it');
  }

  if(recipient) {
    add('recipient', ...await matchRecipient(doc, recipient));
  } else {
    add('recipient', 'not-applicable', 'not checked (give the applicant\'s e-mail address or id)');
  }
  return finish(report);
}

async function checkStatusEntry(doc, report, sources, resolved, now, add) {
  const entries = [].concat(doc.credentialStatus);
  let state = 'active';
  const messages = [];
  for(const entry of entries) {
    if(entry?.type !== 'BitstringStatusListEntry') {
      add('status', 'could-not-check', `could not be checked: credentialStatus of type ${entry?.type} is unknown to this page`);
      return;
    }
    const url = entry.statusListCredential;
    const word = entry.statusPurpose === 'suspension' ? 'suspended' : 'revoked';
    let list;
    try {
      list = await sources.get(url, url, 'status list');
      const listFrom = list.document.validUntil ? Date.parse(list.document.validUntil) : null;
      if(listFrom !== null && now.getTime() - CLOCK_SKEW_MS >= listFrom) {
        throw new Unavailable(`status list ${url} no longer vouches (expired: validUntil was ` +
          `${list.document.validUntil}): its issuer has to republish it`);
      }
      await resolveKeys(list.document, sources, resolved);
      resolved.set(url, list.document);
    } catch(e) {
      if(e instanceof Unavailable) {
        add('status', 'could-not-check', `could not be checked: ${e.message}`);
      } else {
        add('status', 'failed', `status list ${url} does not verify: ${e.message}`);
      }
      return;
    }
    if(list.document.id !== url) {
      add('status', 'failed', `${url} is not the status list it claims to be`);
      return;
    }
    const result = await checkStatus({
      credential: {...doc, credentialStatus: entry}, suite, documentLoader: makeDocumentLoader(resolved)
    });
    if(!result.verified) {
      add('status', 'failed', `status list ${url} does not verify: ${errorText(result.error)}`);
      return;
    }
    const where = `(${url}, ${list.note})`;
    if(result.results?.[0]?.status) {
      state = word;
      messages.push(`${word} by its issuer${await notice(sources, url, entry.statusListIndex)} ${where}`);
    } else {
      messages.push(`valid: not ${word} ${where}`);
    }
  }
  report.statusState = state;
  add('status', state === 'active' ? 'passed' : 'failed', messages.join('; '));
}

async function notice(sources, url, index) {
  let notices;
  try {
    ({document: notices} = await sources.get(`${url}.notices.json`, `${url}.notices.json`, 'notices'));
  } catch(e) {
    return ' (date and reason not available)';
  }
  const entry = notices?.entries?.[String(index)];
  if(!entry || typeof entry !== 'object') {
    return ' (no reason published)';
  }
  return (typeof entry.date === 'string' ? ` on ${entry.date}` : '') +
    (typeof entry.reason === 'string' && entry.reason ? `: ${entry.reason}` : '');
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('');
}

async function matchRecipient(doc, recipient) {
  const given = recipient.trim();
  for(const entry of [].concat(doc.credentialSubject?.identifier ?? [])) {
    if(!entry || typeof entry !== 'object') {
      continue;
    }
    const candidates = entry.identityType === 'emailAddress' ? [given, given.toLowerCase()] : [given];
    for(const candidate of candidates) {
      const expected = entry.hashed ? `sha256$${await sha256Hex(candidate + (entry.salt || ''))}` : candidate;
      if(entry.identityHash === expected) {
        const what = entry.identityType === 'emailAddress' ? 'e-mail address' : 'id';
        return ['passed', `issued to ${given} (the ${what} in the credential)`];
      }
    }
  }
  return ['failed', `not issued to ${given}`];
}

function finish(report) {
  const failed = report.checks.filter(c => c.outcome === 'failed');
  const unchecked = report.checks.filter(c => c.outcome === 'could-not-check');
  const hard = failed.filter(c => ['format', 'proof', 'issuer', 'recipient'].includes(c.check) ||
    c.check === 'status' && report.statusState === null);
  if(hard.length) {
    report.verdict = 'invalid';
  } else if(report.statusState === 'revoked' || report.statusState === 'suspended') {
    report.verdict = report.statusState;
  } else if(failed.some(c => c.check === 'validity')) {
    report.verdict = failed.find(c => c.check === 'validity').message.startsWith('expired') ? 'expired' : 'not-yet-valid';
  } else if(unchecked.length) {
    report.verdict = 'unchecked';
  } else {
    report.verdict = 'verified';
  }
  report.reason = (failed[0] || unchecked[0])?.message ?? null;
  return report;
}

/** The skills and scores the credential states: one row per result description. */
export function skills(doc) {
  const subject = doc?.credentialSubject ?? {};
  const achievement = subject.achievement ?? {};
  const results = [].concat(subject.result ?? []);
  return [].concat(achievement.resultDescription ?? []).filter(r => r && typeof r === 'object').map(rd => {
    const result = results.find(r => r?.resultDescription === rd.id) ?? {};
    return {name: rd.name, value: result.value ?? null, valueMax: rd.valueMax ?? null, required: rd.requiredValue ?? null};
  });
}
