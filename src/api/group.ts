export const GROUP = 'selfheal.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Set to "true" on a workload or its namespace, it keeps selfheal from acting on it. */
export const DISABLED_ANNOTATION = 'selfheal.dev/disabled';

/**
 * Set to "enabled" on a workload, it lets alerts name it to a policy without a target selector: an
 * alert's labels are written by whoever writes alert rules, so a workload is acted on through an alert
 * only when its namespace allowed it (this label, or a selector on the policy that matches it).
 */
export const ALERT_REMEDIATION_LABEL = 'selfheal.dev/alert-remediation';
export const ALERT_REMEDIATION_ENABLED = 'enabled';

/**
 * Set to "public" on a Namespace (by whoever may label namespaces: not a namespace's editors), it lets
 * the namespace's StatusComponents and Incidents speak on the public status page.
 */
export const STATUS_PAGE_LABEL = 'selfheal.dev/status-page';
export const STATUS_PAGE_PUBLIC = 'public';

/** Set by alert intake on an Incident: the endsAt of the alert's last resolved notification. */
export const SIGNAL_CLEARED_ANNOTATION = 'selfheal.dev/signal-cleared-at';
/** Set by alert intake when the same signal fires again after an automated fix: its new startsAt. */
export const RECURRED_ANNOTATION = 'selfheal.dev/recurred-at';
/** On Incidents raised from alerts: the alert's fingerprint, to find them by signal. */
export const FINGERPRINT_LABEL = 'selfheal.dev/fingerprint';
/**
 * Set by alert intake on an Incident whose policy could not name a target from the alert (a missing
 * label, say): the reason, which the policy's Ready condition reports.
 */
export const TARGET_PROBLEM_ANNOTATION = 'selfheal.dev/target-problem';
