{{/* Names and labels, as `helm create` names them. */}}
{{- define "selfheal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "selfheal.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "selfheal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "selfheal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "selfheal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "selfheal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: selfheal
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "selfheal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "selfheal.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: give the existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "selfheal.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The operator's own namespace: the leader Lease lives there (--namespace). */}}
{{- define "selfheal.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{- define "selfheal.webhookSecretName" -}}
{{- default (printf "%s-webhook-token" (include "selfheal.fullname" .)) .Values.webhook.existingSecret }}
{{- end }}

{{- define "selfheal.webhookSecretKey" -}}
{{- if .Values.webhook.existingSecret }}{{ .Values.webhook.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/* The in-cluster URL Alertmanager posts to. */}}
{{- define "selfheal.webhookUrl" -}}
{{- printf "http://%s.%s.svc:%v/webhook/alertmanager" (include "selfheal.fullname" .) .Release.Namespace .Values.ports.webhook }}
{{- end }}

{{/* PromQL label matchers of this release's series: what its ServiceMonitor's targets carry. */}}
{{- define "selfheal.metricsSelector" -}}
{{- default (printf "job=%q,namespace=%q" (include "selfheal.fullname" .) .Release.Namespace) .Values.prometheusRule.selector }}
{{- end }}

{{/*
Whether to render a prometheus-operator object: (list $ "<values key>" "<group/version>" "<Kind>").
"true" when enabled and the cluster serves the API, or renderMode is alwaysRender; with
failIfMissing and no API, the render fails.
*/}}
{{- define "selfheal.renderMonitoring" -}}
{{- $ := index . 0 }}
{{- $key := index . 1 }}
{{- $api := index . 2 }}
{{- $kind := index . 3 }}
{{- $values := index $.Values $key }}
{{- if $values.enabled }}
{{- if or (eq $values.renderMode "alwaysRender") ($.Capabilities.APIVersions.Has $api) }}
{{- print "true" }}
{{- else if eq $values.renderMode "failIfMissing" }}
{{- fail (printf "%s.enabled with renderMode failIfMissing, but the cluster does not serve %s (the %s CRD of prometheus-operator)" $key $api $kind) }}
{{- end }}
{{- end }}
{{- end }}
