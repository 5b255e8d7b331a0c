#!/usr/bin/env node
// Independent canonicalizer: reads JSON-LD documents from stdin, one per line
// (JSON Lines), and prints per line the RDFC-1.0 canonical N-Quads as a JSON
// string. It calls the canonize() of @digitalbazaar/eddsa-rdfc-2022-
// cryptosuite (jsonld.js toRDF + rdf-canonize, algorithm RDFC-1.0, base null,
// safe mode, rdfDirection i18n-datatype): exactly the bytes the independent
// verifier hashes, with the same offline document loader.
// A line that fails prints {"error": "<message>"} instead, and the exit
// status is then 1. Blank input lines are echoed as blank output lines.
//   --unsafe   turn JSON-LD safe mode off (undefined terms are dropped
//              silently instead of raising an error)
import readline from 'node:readline';
import {cryptosuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {makeDocumentLoader, shortError} from './loader.mjs';

let safe = true;
for(const a of process.argv.slice(2)) {
  if(a === '--unsafe') {
    safe = false;
  } else {
    process.stderr.write(`canonize.mjs: unknown argument ${a}\n` +
      'usage: node canonize.mjs [--unsafe] < docs.jsonl\n');
    process.exit(2);
  }
}

const documentLoader = makeDocumentLoader();
const rl = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
let failed = false;
const out = [];
const flush = () => {
  if(out.length) {
    process.stdout.write(out.join(''));
    out.length = 0;
  }
};
for await (const line of rl) {
  if(line.trim() === '') {
    out.push('\n');
    continue;
  }
  try {
    const doc = JSON.parse(line);
    const nquads = await cryptosuite.canonize(doc, {documentLoader, safe});
    out.push(JSON.stringify(nquads) + '\n');
  } catch(e) {
    failed = true;
    out.push(JSON.stringify({error: shortError(e)}) + '\n');
  }
  if(out.length >= 256) {
    flush();
  }
}
flush();
process.exitCode = failed ? 1 : 0;
