// Builds kit/data/verify.html: page.html with the verifier bundled in (esbuild, browser IIFE).
// One file, no network at run time: it works opened from the file system as well as from a host.
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'kit', 'data', 'verify.html');
// Packages whose "browser" file map esbuild does not apply, because their "exports" wins over it.
const browserFiles = {
  'base64url-universal': path.join(here, 'node_modules', 'base64url-universal', 'lib', 'browser.js')
};
const browserField = {
  name: 'browser-field',
  setup(build) {
    build.onResolve({filter: /^base64url-universal$/}, args => ({path: browserFiles[args.path]}));
  }
};
const result = await esbuild.build({
  plugins: [browserField],
  entryPoints: [path.join(here, 'src', 'page.js')],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: ['chrome120', 'firefox121', 'safari17'],
  minify: process.env.CREDKIT_VERIFY_DEBUG !== "1",
  legalComments: 'eof',
  loader: {'.jsonld': 'json'},
  // @digitalbazaar/credentials-context names its files by import.meta.url; the contents are inlined
  define: {'import.meta.url': '"https://credkit.invalid/verify.js"'},
  write: false,
  logLevel: 'warning'
});
// "</script" inside the bundle would end the inline script early
const code = result.outputFiles[0].text.replaceAll('</script', '<\\/script');
const page = fs.readFileSync(path.join(here, 'src', 'page.html'), 'utf8');
if(!page.includes('/*BUNDLE*/')) {
  throw new Error('page.html has no /*BUNDLE*/ marker');
}
const tmp = `${out}.tmp`;
fs.writeFileSync(tmp, page.replace('/*BUNDLE*/', () => code), {mode: 0o644});
fs.renameSync(tmp, out);
console.log(`wrote ${path.relative(process.cwd(), out)} (${Math.round(fs.statSync(out).size / 1024)} KiB)`);
