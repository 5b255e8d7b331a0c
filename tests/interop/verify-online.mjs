#!/usr/bin/env node
// Online verification by two independent verifiers: node verify-online.mjs FILE...
//
// Each credential is checked by
//   "digitalbazaar": @digitalbazaar/vc verifyCredential (eddsa-rdfc-2022 and
//       eddsa-jcs-2022), the issuer's DID resolved with @digitalbazaar/did-io +
//       @digitalbazaar/did-method-web (did:key offline), the status list
//       fetched over HTTPS and checked with @digitalbazaar/vc-bitstring-
//       status-list; JSON-LD contexts from the npm packages (loader.mjs).
//   "dcc": the Digital Credentials Consortium's @digitalcredentials/verifier-
//       core verifyCredential, which brings its own document loader, did:web
//       resolver and status list checker, with no known DID registries.
// Nothing is pre-supplied: DID documents and status lists come from the
// network. For a test server with a private CA, run Node with
// NODE_EXTRA_CA_CERTS=<ca.pem>.
//
// One JSON line per file:
//   {"file": ...,
//    "digitalbazaar": {"verified": bool, "error": str|null,
//                      "status": {"<purpose>": true|false}|null},
//    "dcc": {"verified": bool, "errors": [{"name", "message"}],
//            "steps": {"<step id>": true|false|{"error": {"name", "message"}}},
//            "revoked": true|false|null, "schema": ...}}
// "verified" is the signature/issuer binding only; a set status bit (revoked)
// is reported separately by both. dcc's "verified" means no fatal error and
// its valid_signature step is true; "revoked" is its revocation_status step
// negated (null when it has none or it errored). Its registered_issuer step is
// false here: no registry is given, so it names no issuer as trusted.
// Exit status 0 iff both verifiers verified every file.
import fs from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as rdfcSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {createVerifyCryptosuite as jcsVerifySuite} from
  '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {CachedResolver} from '@digitalbazaar/did-io';
import * as DidWeb from '@digitalbazaar/did-method-web';
import * as DidKey from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {CONTEXTS, shortError} from './loader.mjs';

// verifier-core's schema check prints to stdout (console.log); keep stdout
// for the JSON lines
console.log = (...args) => console.error(...args);
const dcc = await import('@digitalcredentials/verifier-core');

const files = process.argv.slice(2);
if(files.length === 0 || files.some(f => f.startsWith('-'))) {
  process.stderr.write('usage: node verify-online.mjs FILE...\n');
  process.exit(2);
}

const resolver = new CachedResolver();
for(const driver of [DidWeb.driver(), DidKey.driver()]) {
  driver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  resolver.use(driver);
}

// contexts from npm packages; DIDs resolved by did-io; any other https URL
// (a status list credential) fetched
async function documentLoader(url) {
  if(CONTEXTS.has(url)) {
    return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
  }
  if(url.startsWith('did:web:') || url.startsWith('did:key:')) {
    let document;
    try {
      document = await resolver.get({url});
    } catch(e) {
      // "fetch failed" alone does not say why (certificate, connection)
      if(e.cause?.message) {
        throw new Error(`cannot resolve ${url}: ${e.message} (${e.cause.message})`);
      }
      throw e;
    }
    return {contextUrl: null, documentUrl: url, document};
  }
  if(url.startsWith('https://')) {
    let response;
    try {
      response = await fetch(url, {headers: {accept: 'application/ld+json, application/json'}});
    } catch(e) {
      throw new Error(`cannot fetch ${url}: ${e.cause?.message || e.message}`);
    }
    if(!response.ok) {
      throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
    }
    return {contextUrl: null, documentUrl: url, document: await response.json()};
  }
  throw new Error(`document loader refuses to load "${url}"`);
}

const suite = [
  new DataIntegrityProof({cryptosuite: rdfcSuite}),
  new DataIntegrityProof({cryptosuite: jcsVerifySuite()})
];

async function digitalBazaar(credential) {
  const line = {verified: false, error: null};
  let result;
  try {
    result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
  } catch(e) {
    result = {verified: false, error: e};
  }
  line.verified = result.verified === true;
  const proofs = [].concat(credential.proof ?? []);
  const matched = (result.results || []).filter(r => r.verified).length;
  if(line.verified && matched !== proofs.length) {
    line.verified = false;
    line.error = `only ${matched} of ${proofs.length} proofs verified`;
  }
  if(!result.verified) {
    line.error = shortError(result.error || result.statusResult?.error ||
      (result.results || []).map(r => r.error).filter(Boolean));
  }
  if(credential.credentialStatus) {
    const sr = result.statusResult;
    line.status = sr?.results ? Object.fromEntries(
      sr.results.map(r => [r.credentialStatus.statusPurpose, r.status])) : null;
  }
  return line;
}

async function digitalCredentials(credential) {
  const result = await dcc.verifyCredential({credential, knownDIDRegistries: []});
  const errors = (result.errors || []).map(({name, message}) => ({
    name, message: typeof message === 'string' ? message : shortError(message)
  }));
  const steps = {};
  for(const entry of result.log || []) {
    steps[entry.id] = entry.error ?
      {error: {name: entry.error.name, message: entry.error.message}} :
      entry.valid === true;
  }
  const revocation = steps.revocation_status;
  // informational: its OB 3.0 JSON Schema check fetches the schema from
  // purl.imsglobal.org ("INVALID_SCHEMA ..." when that cannot be fetched)
  const schema = (result.additionalInformation || [])
    .find(entry => entry.id === 'schema_check')?.results;
  return {
    verified: errors.length === 0 && steps.valid_signature === true,
    errors, steps,
    revoked: typeof revocation === 'boolean' ? !revocation : null,
    schema: Array.isArray(schema) ?
      schema.map(r => ({schema: r.schema, valid: r.result?.valid ?? null})) :
      schema ?? null
  };
}

let allVerified = true;
for(const file of files) {
  const line = {file};
  let credential;
  try {
    credential = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch(e) {
    line.error = `cannot read JSON: ${e.message}`;
    allVerified = false;
    process.stdout.write(JSON.stringify(line) + '\n');
    continue;
  }
  // each verifier gets its own copy (verifier-core returns and edits it)
  line.digitalbazaar = await digitalBazaar(structuredClone(credential));
  line.dcc = await digitalCredentials(structuredClone(credential));
  allVerified = allVerified && line.digitalbazaar.verified && line.dcc.verified;
  process.stdout.write(JSON.stringify(line) + '\n');
}
process.exit(allVerified ? 0 : 1);
