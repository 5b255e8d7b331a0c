#!/usr/bin/env node
// Independent verifier: node verify.mjs [options] FILE...
//
// Verifies each credential with @digitalbazaar/vc verifyCredential
// (DataIntegrityProof with eddsa-rdfc-2022 or eddsa-jcs-2022, did:key issuers
// resolved offline) and prints one JSON line per file:
//   {"file": ..., "verified": bool, "error": "<message>"|null}
// plus, when the credential has credentialStatus:
//   "status": {"<statusPurpose>": true|false}   (true = bit set, e.g. revoked)
//   or "status": null when no --status-list was given (status not checked).
// verifyCredential reports a revoked credential as verified: the status is
// separate and does not change "verified".
//
// Options:
//   --status-list URL=FILE   serve that signed BitstringStatusListCredential at
//                            URL and check credentialStatus (repeatable); when
//                            any is given, every credentialStatus is checked
//                            and a list that cannot be loaded is an error
//   --controller FILE        serve a (non did:key) controller document at its
//                            id and its verification methods at theirs; for
//                            standard test vectors only (repeatable)
//   --proof-only             do not require issuer == verification method
//                            controller (AssertionProofPurpose instead of
//                            CredentialIssuancePurpose); the W3C vc-di-eddsa
//                            vectors need it, credkit credentials must not
//   --now ISO                the time for validFrom/validUntil checks
//   --list-contexts          print {"url":..., "source": <npm package>} per
//                            served context and exit
// Exit status 0 iff every file verified (and every checked status list
// verified; a set status bit does not change the exit status).
import fs from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import jsigs from 'jsonld-signatures';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as rdfcSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {createVerifyCryptosuite as jcsVerifySuite} from
  '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {
  addControllerDocument, CONTEXT_SOURCES, makeDocumentLoader, shortError
} from './loader.mjs';

function usage(msg) {
  if(msg) {
    process.stderr.write(`verify.mjs: ${msg}\n`);
  }
  process.stderr.write(
    'usage: node verify.mjs [--status-list URL=FILE]... [--controller FILE]...'
    + ' [--proof-only] [--now ISO] FILE...\n');
  process.exit(2);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function readOptionJson(file) {
  try {
    return readJson(file);
  } catch(e) {
    usage(`cannot read ${file}: ${e.message}`);
  }
}

const args = process.argv.slice(2);
const files = [];
const documents = new Map();
const statusListUrls = new Set();
let proofOnly = false;
let now;
for(let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    if(i + 1 >= args.length) {
      usage(`${a} needs a value`);
    }
    return args[++i];
  };
  if(a === '--status-list') {
    const v = value();
    const eq = v.indexOf('=');
    if(eq <= 0) {
      usage('--status-list wants URL=FILE');
    }
    const url = v.slice(0, eq);
    documents.set(url, readOptionJson(v.slice(eq + 1)));
    statusListUrls.add(url);
  } else if(a === '--controller') {
    addControllerDocument(documents, readOptionJson(value()));
  } else if(a === '--proof-only') {
    proofOnly = true;
  } else if(a === '--now') {
    now = new Date(value());
    if(isNaN(now)) {
      usage('--now wants an ISO date-time');
    }
  } else if(a === '--list-contexts') {
    for(const [url, source] of CONTEXT_SOURCES) {
      process.stdout.write(JSON.stringify({url, source}) + '\n');
    }
    process.exit(0);
  } else if(a === '-h' || a === '--help') {
    usage();
  } else if(a.startsWith('--')) {
    usage(`unknown option ${a}`);
  } else {
    files.push(a);
  }
}
if(files.length === 0) {
  usage('no files');
}

const documentLoader = makeDocumentLoader({documents});
const suite = [
  new DataIntegrityProof({cryptosuite: rdfcSuite}),
  new DataIntegrityProof({cryptosuite: jcsVerifySuite()})
];
const checkStatuses = statusListUrls.size > 0;

// used when no --status-list was given: status is reported as not checked
async function skipStatus() {
  return {verified: true, skipped: true};
}

async function verifyOne(file) {
  const line = {file, verified: false, error: null};
  let credential;
  try {
    credential = readJson(file);
  } catch(e) {
    line.error = `cannot read JSON: ${e.message}`;
    return line;
  }
  const options = {
    credential, suite, documentLoader,
    checkStatus: checkStatuses ? checkStatus : skipStatus
  };
  if(proofOnly) {
    options.purpose = new jsigs.purposes.AssertionProofPurpose();
  }
  if(now) {
    options.now = now;
  }
  let result;
  try {
    result = await vc.verifyCredential(options);
  } catch(e) {
    result = {verified: false, error: e};
  }
  line.verified = result.verified === true;
  // jsonld-signatures 11 calls a document verified when *some* proof in a
  // proof set verifies, and silently ignores proofs no suite matches; the
  // Data Integrity "verify proof sets" algorithm wants all of them.
  const proofs = [].concat(credential?.proof ?? []);
  if(line.verified && Array.isArray(result.results)) {
    const bad = result.results.filter(r => !r.verified);
    if(bad.length) {
      line.verified = false;
      line.error = 'not every proof verified: ' + shortError(
        bad.map(r => r.error || new Error('proof not verified')));
      return finishStatus(line, credential, result);
    }
    if(result.results.length !== proofs.length) {
      line.verified = false;
      line.error = `only ${result.results.length} of ${proofs.length} ` +
        'proofs matched a supported suite (DataIntegrityProof with ' +
        'eddsa-rdfc-2022 or eddsa-jcs-2022)';
      return finishStatus(line, credential, result);
    }
  }
  if(!line.verified) {
    line.error = shortError(result.error ||
      result.statusResult?.error ||
      (result.results || []).map(r => r.error).filter(Boolean));
  }
  return finishStatus(line, credential, result);
}

function finishStatus(line, credential, result) {
  if(credential && credential.credentialStatus) {
    const sr = result.statusResult;
    if(!checkStatuses || !sr || sr.skipped) {
      line.status = null;
    } else if(sr.results) {
      line.status = {};
      for(const r of sr.results) {
        line.status[r.credentialStatus.statusPurpose] = r.status;
      }
    } else {
      line.status = null;
    }
  }
  return line;
}

let allVerified = true;
for(const file of files) {
  const line = await verifyOne(file);
  allVerified = allVerified && line.verified;
  process.stdout.write(JSON.stringify(line) + '\n');
}
process.exit(allVerified ? 0 : 1);
