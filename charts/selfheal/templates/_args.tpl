{{/*
The operator's flags. The chart sets these itself, from named values; every other flag comes from
the `config` map (values.schema.json lists them, generated from src/config.ts).
*/}}
{{- define "selfheal.args" -}}
- --namespace={{ include "selfheal.leaseNamespace" . }}
- --health-address=:{{ .Values.ports.health }}
- --webhook-address=:{{ .Values.ports.webhook }}
- --webhook-token-file=/var/run/selfheal/webhook/{{ include "selfheal.webhookSecretKey" . }}
- --leader-elect={{ .Values.leaderElection.enabled }}
- --lease-duration={{ .Values.leaderElection.leaseDuration }}
- --renew-deadline={{ .Values.leaderElection.renewDeadline }}
- --retry-period={{ .Values.leaderElection.retryPeriod }}
{{- with .Values.watchNamespaces }}
- --watch-namespaces={{ join "," . }}
{{- end }}
{{- if .Values.playbook }}
- --playbook-file=/etc/selfheal/playbook/playbook.yaml
{{- end }}
{{- with .Values.statusPage }}
{{- if .enabled }}
- --status-page-address=:{{ .port }}
- {{ printf "--status-page-title=%s" .title | quote }}
{{- with .url }}
- {{ printf "--status-page-url=%s" . | quote }}
{{- end }}
{{- with .namespaces }}
- --status-page-namespaces={{ join "," . }}
{{- end }}
{{- end }}
{{- end }}
{{- range $flag, $value := .Values.config }}
{{- /* Values files give numbers as float64: 1048576 would print as 1.048576e+06. */}}
- {{ printf "--%s=%s" $flag (ternary (int64 $value | toString) (toString $value) (kindIs "float64" $value)) | quote }}
{{- end }}
{{- end }}
