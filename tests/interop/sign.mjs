#!/usr/bin/env node
// Independent signer:
//   node sign.mjs --cryptosuite eddsa-rdfc-2022|eddsa-jcs-2022 --key KEYFILE
//                 [--created ISO] UNSIGNED.json
// prints the signed credential (JSON) on stdout, signed with
// @digitalbazaar/vc issue() + @digitalbazaar/data-integrity.
//
// KEYFILE is a Multikey JSON: {"publicKeyMultibase": "z6Mk...",
// "secretKeyMultibase" or "privateKeyMultibase": "z3u2..."}; "id" and
// "controller" are optional (default: did:key:<pub>#<pub>, did:key:<pub>).
// --created sets proof.created exactly (Ed25519 is deterministic, so the W3C
// vectors' proofValue is reproduced); default: now.
// --controller FILE serves a non did:key controller document (test vectors).
import fs from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as rdfcSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {createSignCryptosuite as jcsSignSuite} from
  '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {
  addControllerDocument, makeDocumentLoader, shortError
} from './loader.mjs';

function usage(msg) {
  if(msg) {
    process.stderr.write(`sign.mjs: ${msg}\n`);
  }
  process.stderr.write(
    'usage: node sign.mjs --cryptosuite eddsa-rdfc-2022|eddsa-jcs-2022 ' +
    '--key KEYFILE [--created ISO] [--controller FILE] UNSIGNED.json\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let cryptosuiteName;
let keyFile;
let created;
let input;
const documents = new Map();
for(let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    if(i + 1 >= args.length) {
      usage(`${a} needs a value`);
    }
    return args[++i];
  };
  if(a === '--cryptosuite') {
    cryptosuiteName = value();
  } else if(a === '--key') {
    keyFile = value();
  } else if(a === '--created') {
    created = value();
  } else if(a === '--controller') {
    addControllerDocument(
      documents, JSON.parse(fs.readFileSync(value(), 'utf8')));
  } else if(a.startsWith('--')) {
    usage(`unknown option ${a}`);
  } else if(input) {
    usage('only one UNSIGNED.json');
  } else {
    input = a;
  }
}
if(!cryptosuiteName || !keyFile || !input) {
  usage('--cryptosuite, --key and UNSIGNED.json are required');
}
if(created !== undefined && isNaN(new Date(created))) {
  usage('--created wants an ISO date-time');
}

let cryptosuite;
if(cryptosuiteName === 'eddsa-rdfc-2022') {
  cryptosuite = rdfcSuite;
} else if(cryptosuiteName === 'eddsa-jcs-2022') {
  cryptosuite = jcsSignSuite();
} else {
  usage(`unsupported cryptosuite ${cryptosuiteName}`);
}

try {
  const key = JSON.parse(fs.readFileSync(keyFile, 'utf8'));
  const {publicKeyMultibase} = key;
  const secretKeyMultibase = key.secretKeyMultibase || key.privateKeyMultibase;
  if(!(typeof publicKeyMultibase === 'string' &&
    publicKeyMultibase.startsWith('z6Mk'))) {
    throw new Error('key file: "publicKeyMultibase" must be an Ed25519 ' +
      'Multikey ("z6Mk...")');
  }
  if(typeof secretKeyMultibase !== 'string') {
    throw new Error('key file: "secretKeyMultibase" or ' +
      '"privateKeyMultibase" is required');
  }
  const controller = key.controller || `did:key:${publicKeyMultibase}`;
  const id = key.id || `${controller}#${publicKeyMultibase}`;
  const keyPair = await Ed25519Multikey.from({
    '@context': 'https://w3id.org/security/multikey/v1',
    type: 'Multikey',
    id, controller, publicKeyMultibase, secretKeyMultibase
  });
  // refuse a secret key that does not belong to the public key (it would
  // sign, and every verifier would then reject the credential)
  const seed = (await keyPair.export(
    {raw: true, secretKey: true, canonicalize: true})).secretKey;
  const derived = await Ed25519Multikey.generate({seed});
  if(derived.publicKeyMultibase !== publicKeyMultibase) {
    throw new Error('key file: secret key does not match publicKeyMultibase');
  }

  const suite = new DataIntegrityProof({
    signer: keyPair.signer(),
    cryptosuite,
    // undefined: the library sets `created` to now; null: no library date,
    // so the exact --created string below is kept (a Date would be
    // reformatted, dropping fractional seconds)
    date: created ? null : undefined
  });
  if(created) {
    suite.proof = {created};
  }
  const credential = JSON.parse(fs.readFileSync(input, 'utf8'));
  const signed = await vc.issue({
    credential,
    suite,
    documentLoader: makeDocumentLoader({documents})
  });
  process.stdout.write(JSON.stringify(signed, null, 2) + '\n');
} catch(e) {
  process.stderr.write(`sign.mjs: ${shortError(e)}\n`);
  process.exit(1);
}
