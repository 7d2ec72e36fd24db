{{/*
The operator's permissions: exactly what it reads and writes, nothing more. One rule per line; a
new permission is one line here. test/integration/operator-rbac.test.ts runs the operator with
exactly these, in both modes.
*/}}

{{/* In every watched namespace: a ClusterRole over all of them, or a Role in each listed one. */}}
{{- define "selfheal.rbac.watchedNamespaceRules" -}}
# Incidents: watched, created by alert intake, annotated when their signal changes.
- { apiGroups: [selfheal.dev], resources: [incidents], verbs: [get, list, watch, create, patch] }
# The reconciler writes only the status subresource.
- { apiGroups: [selfheal.dev], resources: [incidents/status], verbs: [patch] }
- { apiGroups: [selfheal.dev], resources: [remediationpolicies], verbs: [get, list, watch] }
# The policy controller writes only the Ready condition.
- { apiGroups: [selfheal.dev], resources: [remediationpolicies/status], verbs: [patch] }
# The status page reads the components it shows.
- { apiGroups: [selfheal.dev], resources: [statuscomponents], verbs: [get, list, watch] }
# Remediation: workloads watched, patched (restart, replicas, the claim); no create, no delete.
- { apiGroups: [apps], resources: [deployments, statefulsets, daemonsets], verbs: [get, list, watch, patch] }
# What on-call checks first, read once when an incident opens: the last rollout, warning Events.
- { apiGroups: [apps], resources: [replicasets], verbs: [list] }
- { apiGroups: [""], resources: [events], verbs: [list] }
# The opt-out annotation selfheal.dev/disabled on the namespace (a Role grants its own namespace).
- { apiGroups: [""], resources: [namespaces], verbs: [get, list, watch] }
# Events are created, and a repeat within ten minutes is counted on the first one.
- { apiGroups: [events.k8s.io], resources: [events], verbs: [create, patch] }
# Receivers' credentials (PagerDuty routing keys, Slack and webhook URLs), read when sending.
- { apiGroups: [""], resources: [secrets], verbs: [get] }
# Post-mortem drafts: a ConfigMap owned by the incident, created once.
- { apiGroups: [""], resources: [configmaps], verbs: [create] }
{{- end }}

{{/* In the operator's own namespace only. */}}
{{- define "selfheal.rbac.ownNamespaceRules" -}}
{{- if .Values.leaderElection.enabled -}}
# Leader election.
- { apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update] }
{{- end }}
# The live pause switch: the ConfigMap selfheal-pause, watched.
- { apiGroups: [""], resources: [configmaps], verbs: [list, watch] }
{{- end }}
