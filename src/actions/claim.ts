// The claim an attempt writes on its workload in the same conditioned patch as its effect: which
// incident and attempt is acting, and until when. One remediation at a time per workload: another
// incident that finds a live claim does not act; it follows the claimant's outcome. A claim needs no
// release write: it lapses when the claimant's attempt ends (as its incident's status records) or at
// its expiry, whichever comes first, so a crash can never leave a workload locked.
import { objectAnnotations, type Workload } from './workload.ts';

export const CLAIM_ANNOTATION = 'selfheal.dev/claim';

export interface Claim {
  /** The claiming incident's name (always in the workload's namespace). */
  incident: string;
  /** Its uid: a re-created incident of the same name holds no claim of the old one. */
  uid: string;
  attempt: string;
  /** When the claim lapses whatever the incident's status says: the attempt's deadline. */
  expiresAt: string;
}

export function claimAnnotation(claim: Claim): Record<string, string> {
  return { [CLAIM_ANNOTATION]: JSON.stringify(claim) };
}

/** The claim on the workload, if it carries a well-formed one (a mangled value is no claim). */
export function claimOf(workload: Workload): Claim | undefined {
  const text = objectAnnotations(workload)[CLAIM_ANNOTATION];
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const { incident, uid, attempt, expiresAt } = value as Record<string, unknown>;
    if (
      typeof incident !== 'string' ||
      typeof uid !== 'string' ||
      typeof attempt !== 'string' ||
      typeof expiresAt !== 'string' ||
      Number.isNaN(Date.parse(expiresAt))
    )
      return undefined;
    return { incident, uid, attempt, expiresAt };
  } catch {
    return undefined;
  }
}
