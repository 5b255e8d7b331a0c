import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One check of the server's verification (kit.verify's report). */
export interface ICheck {
  check: string;
  /** null: the check did not apply. */
  passed: boolean | null;
  message: string;
}

export interface IVerification {
  verified: boolean;
  status: string;
  checks: ICheck[];
}

export interface IAlignment {
  targetName: string | null;
  targetUrl: string | null;
  targetFramework: string | null;
  targetCode: string | null;
  targetDescription: string | null;
}

export interface ISkill {
  id: string | null;
  name: string;
  value: string | number | null;
  status: string | null;
  valueMax: string | number | null;
  requiredValue: string | number | null;
  alignments: IAlignment[];
}

export interface IEvidence {
  id: string | null;
  name: string | null;
  description: string | null;
  narrative: string | null;
}

export interface ICredentialSummary {
  id: string;
  credentialId: string | null;
  name: string;
  description: string | null;
  achievementId: string | null;
  achievementType: string | null;
  issuer: { id: string | null; name: string | null; url: string | null };
  validFrom: string | null;
  validUntil: string | null;
  criteria: { narrative: string | null; id: string | null };
  alignments: IAlignment[];
  skills: ISkill[];
  evidence: IEvidence[];
  verification: IVerification;
  links: { self: string; image: string; json: string; png: string; svg: string };
}

export interface IWallet {
  learner: string | null;
  credentials: ICredentialSummary[];
  unreadable: { id: string; message: string }[];
}

/** Call a credkit route; throws ServerConnection.ResponseError with the server's message on failure. */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'credkit', endPoint);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch (error) {
      data = text;
    }
  }
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response, data.message || data);
  }
  return data as T;
}

export function listCredentials(): Promise<IWallet> {
  return requestAPI<IWallet>('credentials');
}

export function verifyCredential(id: string): Promise<IVerification> {
  return requestAPI<IVerification>(`credentials/${id}/verify`, {
    method: 'POST'
  });
}

export function fetchReleased(): Promise<{
  new: string[];
  statusLists: string[];
}> {
  return requestAPI('fetch', { method: 'POST' });
}
