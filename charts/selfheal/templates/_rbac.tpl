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
# Remediation: read a workload and patch it (restart annotation, replica count). No create, no delete.
- { apiGroups: [apps], resources: [deployments, statefulsets, daemonsets], verbs: [get, patch] }
# The opt-out annotation selfheal.dev/disabled on the namespace (a Role grants its own namespace).
- { apiGroups: [""], resources: [namespaces], verbs: [get] }
- { apiGroups: [events.k8s.io], resources: [events], verbs: [create] }
{{- end }}

{{/* In the operator's own namespace only. */}}
{{- define "selfheal.rbac.ownNamespaceRules" -}}
{{- if .Values.leaderElection.enabled -}}
# Leader election.
- { apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update] }
{{- end }}
{{- end }}
