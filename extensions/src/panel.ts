import { Clipboard, Notification } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import {
  IAlignment,
  ICredentialSummary,
  IVerification,
  IWallet,
  fetchReleased,
  listCredentials,
  verifyCredential
} from './api';

const STATUS_TEXT: { [status: string]: string } = {
  verified: 'Verified',
  expired: 'Expired',
  'not-yet-valid': 'Not yet valid',
  revoked: 'Revoked',
  suspended: 'Suspended',
  unchecked: 'Not checked',
  invalid: 'Invalid'
};

type Attrs = { [name: string]: string };

/** A tiny DOM builder: text is always set as text, never parsed as HTML. */
function h(
  tag: string,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) {
      continue;
    }
    node.appendChild(
      typeof child === 'string' ? document.createTextNode(child) : child
    );
  }
  return node;
}

function formatDate(value: string | null): string {
  if (!value) {
    return '';
  }
  const date = new Date(value);
  if (isNaN(date.getTime())) {
    return value;
  }
  return date.toLocaleDateString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric'
  });
}

function formatScore(value: string | number | null, max: string | number | null): string {
  if (value === null || value === undefined || value === '') {
    return '';
  }
  const number = Number(value);
  const maxNumber = Number(max);
  if (!isNaN(number) && max !== null && max !== undefined && !isNaN(maxNumber) && maxNumber > 0) {
    return `${+number.toFixed(2)} / ${+maxNumber.toFixed(2)}`;
  }
  if (!isNaN(number) && number <= 1 && number >= 0 && String(value).includes('.')) {
    return `${Math.round(number * 100)}%`;
  }
  return String(value);
}

function statusBadge(verification: IVerification): HTMLElement {
  const status = verification.status || 'invalid';
  const failed = (verification.checks || []).filter(check => check.passed === false);
  return h(
    'span',
    {
      class: `credkit-status credkit-status-${status}`,
      'data-status': status,
      title: failed.length ? failed.map(c => `${c.check}: ${c.message}`).join('\n') : 'Every check passed'
    },
    STATUS_TEXT[status] || status
  );
}

/** Whether the issuer withdrew the credential: nothing of it is offered for sharing then. */
function withdrawn(credential: ICredentialSummary): boolean {
  return ['revoked', 'suspended'].includes(credential.verification.status);
}

/** What the issuer published about a revocation or suspension (the status check's line: date and reason). */
function statusNote(credential: ICredentialSummary): string {
  const check = (credential.verification.checks || []).find(c => c.check === 'status');
  // the list's URL and where it came from stay in the details' checks; the card keeps date and reason
  return check ? check.message.replace(/\s\(https:\/\/[^()]*\)$/, '') : STATUS_TEXT[credential.verification.status] || credential.verification.status;
}

/** The issuer's verify page (`credkit publish` writes it at the root of a did:web issuer's host), or null. */
export function verifyPageUrl(issuerId: string | null): string | null {
  if (!issuerId || !issuerId.startsWith('did:web:')) {
    return null;
  }
  const host = decodeURIComponent(issuerId.slice('did:web:'.length).split(':')[0]).toLowerCase();
  return /^[a-z0-9.-]+(:[0-9]{1,5})?$/.test(host) && !host.startsWith('.') ? `https://${host}/verify.html` : null;
}

/** LinkedIn's "Add to profile" form for a certification, filled from the credential. */
export function linkedInUrl(credential: ICredentialSummary): string {
  const params = new URLSearchParams({ startTask: 'CERTIFICATION_NAME', name: credential.name });
  if (credential.issuer.name) {
    params.set('organizationName', credential.issuer.name);
  }
  for (const [prefix, value] of [['issue', credential.validFrom], ['expiration', credential.validUntil]] as const) {
    const date = value ? new Date(value) : null;
    if (date && !isNaN(date.getTime())) {
      params.set(`${prefix}Year`, String(date.getUTCFullYear()));
      params.set(`${prefix}Month`, String(date.getUTCMonth() + 1));
    }
  }
  // the credential's public URL: its achievement's page on the issuer's site (the credential id is a urn:uuid)
  if (credential.achievementId && credential.achievementId.startsWith('https://')) {
    params.set('certUrl', credential.achievementId);
  }
  if (credential.credentialId) {
    params.set('certId', credential.credentialId);
  }
  return `https://www.linkedin.com/profile/add?${params.toString()}`;
}

/** The text a learner sends an employer along with the file. */
export function shareText(credential: ICredentialSummary): string {
  const issuer = credential.issuer.name || credential.issuer.id || 'my course';
  const skills = credential.skills.map(s => s.name).join(', ');
  const page = verifyPageUrl(credential.issuer.id);
  return [
    `I earned the credential “${credential.name}” from ${issuer}${skills ? ` (skills: ${skills})` : ''}.`,
    page ? `Check it without installing anything: open ${page} and drop the attached file on it.` : '',
    'It is a signed Open Badges 3.0 credential, verifiable offline: check the attached file ' +
      `(credential-${credential.id}.json, or the badge image with the credential baked in) with ` +
      `\`credkit verify credential-${credential.id}.json --recipient <my e-mail>\` ` +
      'or any Open Badges 3.0 verifier. It confirms the issuer’s signature, the dates, revocation and that it was issued to me.',
    credential.credentialId ? `Credential id: ${credential.credentialId}` : ''
  ]
    .filter(line => line)
    .join('\n');
}

/** The left-sidebar panel: the learner's credentials, their details, and what to do with them. */
export class CredentialsPanel extends Widget {
  constructor() {
    super();
    this.id = 'credkit-credentials';
    this.addClass('credkit-panel');
    this.title.caption = 'Credentials';
    this._header = h('div', { class: 'credkit-header' });
    this._body = h('div', { class: 'credkit-body' });
    this.node.appendChild(this._header);
    this.node.appendChild(this._body);
    this._renderHeader();
  }

  /** Known credentials, by wallet id. */
  get credentials(): ICredentialSummary[] {
    return this._wallet ? this._wallet.credentials : [];
  }

  /** Fetch released credentials from the exchange, then reload; notifies about new ones. */
  async refresh(options: { fetch?: boolean; notify?: boolean } = {}): Promise<void> {
    if (options.fetch !== false) {
      try {
        await fetchReleased();
      } catch (error) {
        // 409: no learner configured (a plain local wallet); nothing to fetch, the wallet still lists.
        if ((error as any)?.response?.status !== 409) {
          console.warn('credkit: fetching released credentials failed', error);
        }
      }
    }
    let wallet: IWallet;
    try {
      wallet = await listCredentials();
    } catch (error) {
      this._renderError(String((error as Error).message || error));
      return;
    }
    const before = this._known;
    this._wallet = wallet;
    const ids = wallet.credentials.map(c => c.id);
    const storageKey = `credkit:seen:${wallet.learner || ''}`;
    const stored = window.localStorage.getItem(storageKey);
    // The first time ever, everything is "new": show it without a notification for each.
    const hadState = stored !== null || before !== null;
    const seen = new Set<string>(JSON.parse(stored || '[]'));
    const fresh = wallet.credentials.filter(c => !seen.has(c.id) && (before === null || !before.has(c.id)));
    if (options.notify !== false && fresh.length > 0 && hadState) {
      for (const credential of fresh) {
        Notification.success(`New credential: ${credential.name}`, {
          autoClose: 8000,
          actions: [
            {
              label: 'Show',
              callback: () => this.showDetails(credential.id)
            }
          ]
        });
      }
    }
    window.localStorage.setItem(storageKey, JSON.stringify(ids));
    this._known = new Set(ids);
    if (this._detailsId && ids.includes(this._detailsId)) {
      this.showDetails(this._detailsId);
    } else {
      this._renderList();
    }
  }

  showDetails(id: string): void {
    const credential = this.credentials.find(c => c.id === id);
    if (!credential) {
      return;
    }
    this._detailsId = id;
    this._body.replaceChildren(this._details(credential));
  }

  showList(): void {
    this._detailsId = null;
    this._renderList();
  }

  private _renderHeader(): void {
    const refresh = h('button', { class: 'credkit-button credkit-refresh', title: 'Fetch new credentials and verify again' }, 'Refresh');
    refresh.addEventListener('click', () => void this.refresh());
    this._header.replaceChildren(h('h2', { class: 'credkit-title' }, 'Credentials'), refresh);
  }

  private _renderError(message: string): void {
    this._body.replaceChildren(
      h('div', { class: 'credkit-error' }, `Could not load your credentials: ${message}`)
    );
  }

  private _renderList(): void {
    const credentials = this.credentials;
    if (credentials.length === 0) {
      this._body.replaceChildren(
        h(
          'div',
          { class: 'credkit-empty' },
          h('h3', {}, 'No credentials yet'),
          h(
            'p',
            {},
            'Credentials are earned in assessments. Work through an assessment notebook, check your skills with its ' +
              'visible tests, and submit it. When your graded work reaches a skill’s threshold, your course issues a ' +
              'signed credential for that skill, and it appears here.'
          ),
          h('p', {}, 'Press Refresh after your course has returned your grades.')
        )
      );
      return;
    }
    const list = h('ul', { class: 'credkit-list' });
    for (const credential of credentials) {
      list.appendChild(this._card(credential));
    }
    const unreadable = this._wallet?.unreadable || [];
    this._body.replaceChildren(list);
    if (unreadable.length) {
      this._body.appendChild(
        h('div', { class: 'credkit-error' }, `${unreadable.length} file(s) in your wallet could not be read: ` + unreadable.map(u => `${u.id}: ${u.message}`).join('; '))
      );
    }
  }

  private _card(credential: ICredentialSummary): HTMLElement {
    const skills = h('ul', { class: 'credkit-skills' });
    for (const skill of credential.skills) {
      skills.appendChild(
        h('li', {}, h('span', { class: 'credkit-skill-name' }, skill.name), h('span', { class: 'credkit-skill-score' }, formatScore(skill.value, skill.valueMax)))
      );
    }
    const card = h(
      'li',
      { class: 'credkit-card', 'data-credential-id': credential.id, tabindex: '0', role: 'button', 'aria-label': `${credential.name}: show details` },
      h('img', { class: 'credkit-badge', src: credential.links.image, alt: `${credential.name} badge` }),
      h(
        'div',
        { class: 'credkit-card-main' },
        h('div', { class: 'credkit-card-top' }, h('span', { class: 'credkit-name' }, credential.name), statusBadge(credential.verification)),
        h('div', { class: 'credkit-issuer' }, credential.issuer.name || credential.issuer.id || ''),
        withdrawn(credential) ? h('div', { class: 'credkit-withdrawn' }, statusNote(credential)) : null,
        skills,
        h(
          'div',
          { class: 'credkit-dates' },
          `Issued ${formatDate(credential.validFrom)}`,
          credential.validUntil ? ` · Expires ${formatDate(credential.validUntil)}` : ' · Does not expire'
        )
      )
    );
    card.addEventListener('click', () => this.showDetails(credential.id));
    card.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        this.showDetails(credential.id);
      }
    });
    return card;
  }

  private _alignmentList(alignments: IAlignment[]): HTMLElement | null {
    if (!alignments.length) {
      return null;
    }
    const list = h('ul', { class: 'credkit-alignments' });
    for (const alignment of alignments) {
      const label = [alignment.targetFramework, alignment.targetCode].filter(x => x).join(' ');
      const name = alignment.targetName || alignment.targetUrl || 'Alignment';
      list.appendChild(
        h(
          'li',
          {},
          alignment.targetUrl
            ? h('a', { href: alignment.targetUrl, target: '_blank', rel: 'noopener noreferrer' }, name)
            : name,
          label ? h('span', { class: 'credkit-framework' }, ` (${label})`) : null
        )
      );
    }
    return list;
  }

  private _details(credential: ICredentialSummary): HTMLElement {
    const back = h('button', { class: 'credkit-button credkit-back' }, '← All credentials');
    back.addEventListener('click', () => this.showList());

    const actions = h('div', { class: 'credkit-actions' });
    for (const [kind, label] of [
      ['json', 'Download JSON'],
      ['png', 'Download PNG badge'],
      ['svg', 'Download SVG badge']
    ]) {
      actions.appendChild(
        h('a', { class: `credkit-button credkit-download-${kind}`, href: (credential.links as any)[kind], download: `credential-${credential.id}.${kind}` }, label)
      );
    }
    const copy = h('button', { class: 'credkit-button credkit-copy' }, 'Copy share text');
    copy.addEventListener('click', () => {
      Clipboard.copyToSystem(shareText(credential));
      Notification.info('Share text copied: send it with the downloaded file.', { autoClose: 4000 });
    });
    const reverify = h('button', { class: 'credkit-button credkit-reverify' }, 'Verify again');
    const checks = h('ul', { class: 'credkit-checks' });
    const status = h('div', { class: 'credkit-details-status' });
    const renderVerification = (verification: IVerification) => {
      status.replaceChildren(statusBadge(verification));
      checks.replaceChildren(
        ...(verification.checks || []).map(check =>
          h('li', { class: check.passed === false ? 'credkit-check-failed' : check.passed ? 'credkit-check-passed' : 'credkit-check-na' }, `${check.passed === false ? '✗' : check.passed ? '✓' : '–'} ${check.check}`, check.message ? h('span', { class: 'credkit-check-message' }, ` — ${check.message}`) : null)
        )
      );
    };
    renderVerification(credential.verification);
    reverify.addEventListener('click', async () => {
      reverify.setAttribute('disabled', 'true');
      try {
        const verification = await verifyCredential(credential.id);
        credential.verification = verification;
        renderVerification(verification);
        Notification.info(`${credential.name}: ${STATUS_TEXT[verification.status] || verification.status}`, { autoClose: 3000 });
      } catch (error) {
        Notification.error(`Verification failed to run: ${(error as Error).message}`);
      } finally {
        reverify.removeAttribute('disabled');
      }
    });
    const share = h('div', { class: 'credkit-share' });
    if (withdrawn(credential)) {
      // a revoked or suspended credential is not offered for sharing; say why instead
      share.appendChild(h('p', { class: 'credkit-withdrawn' }, `Not shareable: ${statusNote(credential)}`));
    } else {
      actions.appendChild(copy);
      const page = verifyPageUrl(credential.issuer.id);
      if (page) {
        share.appendChild(h('a', { class: 'credkit-button credkit-verify-page', href: page, target: '_blank', rel: 'noopener noreferrer' }, 'Issuer’s verify page'));
      }
      share.appendChild(h('a', { class: 'credkit-button credkit-linkedin', href: linkedInUrl(credential), target: '_blank', rel: 'noopener noreferrer' }, 'Add to LinkedIn profile'));
    }
    actions.appendChild(reverify);

    const skills = h('ul', { class: 'credkit-skills credkit-skills-detailed' });
    for (const skill of credential.skills) {
      const required = skill.requiredValue !== null && skill.requiredValue !== undefined ? ` · required ${formatScore(skill.requiredValue, skill.valueMax)}` : '';
      skills.appendChild(
        h('li', {}, h('div', {}, h('span', { class: 'credkit-skill-name' }, skill.name), h('span', { class: 'credkit-skill-score' }, formatScore(skill.value, skill.valueMax) + required)), this._alignmentList(skill.alignments))
      );
    }
    const evidence = h('ul', { class: 'credkit-evidence' });
    for (const item of credential.evidence) {
      const title = item.name || item.id || 'Evidence';
      evidence.appendChild(
        h('li', {}, item.id && /^https?:\/\//.test(item.id) ? h('a', { href: item.id, target: '_blank', rel: 'noopener noreferrer' }, title) : h('strong', {}, title), item.description ? h('div', {}, item.description) : null, item.narrative ? h('div', {}, item.narrative) : null)
      );
    }
    const issuer = credential.issuer.url
      ? h('a', { href: credential.issuer.url, target: '_blank', rel: 'noopener noreferrer' }, credential.issuer.name || credential.issuer.url)
      : h('span', {}, credential.issuer.name || '');

    return h(
      'div',
      { class: 'credkit-details', 'data-credential-id': credential.id },
      back,
      h('div', { class: 'credkit-details-head' }, h('img', { class: 'credkit-badge-large', src: credential.links.image, alt: `${credential.name} badge` }), h('div', {}, h('h3', { class: 'credkit-name' }, credential.name), h('div', { class: 'credkit-issuer' }, 'Issued by ', issuer), status)),
      credential.description ? h('p', { class: 'credkit-description' }, credential.description) : null,
      h('div', { class: 'credkit-dates' }, `Valid from ${formatDate(credential.validFrom)}`, credential.validUntil ? ` until ${formatDate(credential.validUntil)}` : ', no expiry'),
      actions,
      share,
      h('h4', {}, 'Criteria'),
      h('p', { class: 'credkit-criteria' }, credential.criteria.narrative || credential.criteria.id || 'Not stated by the issuer.'),
      h('h4', {}, 'Skills'),
      skills,
      credential.alignments.length ? h('h4', {}, 'Aligned to') : null,
      this._alignmentList(credential.alignments),
      h('h4', {}, 'Evidence'),
      credential.evidence.length ? evidence : h('p', {}, 'No evidence attached.'),
      h('h4', {}, 'Verification'),
      checks,
      h('div', { class: 'credkit-fineprint' }, `Credential id: ${credential.credentialId || credential.id}`, h('br'), `Issuer: ${credential.issuer.id || ''}`)
    );
  }

  private _header: HTMLElement;
  private _body: HTMLElement;
  private _wallet: IWallet | null = null;
  private _known: Set<string> | null = null;
  private _detailsId: string | null = null;
}
