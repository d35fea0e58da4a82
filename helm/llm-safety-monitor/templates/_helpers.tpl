{{/*
The chart name, or nameOverride.
*/}}
{{- define "llm-safety-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified name, truncated to 63 characters (the DNS label limit of object names).
*/}}
{{- define "llm-safety-monitor.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "llm-safety-monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels every object carries.
*/}}
{{- define "llm-safety-monitor.labels" -}}
helm.sh/chart: {{ include "llm-safety-monitor.chart" . }}
{{ include "llm-safety-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.mode }}
app.kubernetes.io/part-of: llm-safety-monitor
{{- end }}

{{/*
Labels that select the pods.
*/}}
{{- define "llm-safety-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-safety-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "llm-safety-monitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llm-safety-monitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The monitor image reference.
*/}}
{{- define "llm-safety-monitor.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The model server URL the proxy forwards to.
*/}}
{{- define "llm-safety-monitor.upstreamURL" -}}
{{- if eq .Values.mode "sidecar" }}
{{- .Values.upstream.url | default (printf "http://127.0.0.1:%d" (int .Values.modelServer.port)) }}
{{- else }}
{{- .Values.upstream.url }}
{{- end }}
{{- end }}

{{/*
Where the settings file is mounted.
*/}}
{{- define "llm-safety-monitor.configDir" -}}
/etc/safety-monitor
{{- end }}

{{/*
The settings file: the user's `config`, then the keys the chart owns (ports, upstream, checkpoints).
*/}}
{{- define "llm-safety-monitor.config" -}}
{{- $owned := dict
  "host" .Values.bindAddress
  "port" (int .Values.ports.proxy)
  "admin_host" .Values.bindAddress
  "admin_port" (int .Values.ports.admin)
  "detection" (dict "checkpoint_path" (printf "%s/detectors.checkpoint.json" .Values.persistence.mountPath)) }}
{{- if ne .Values.mode "tap" }}
{{- $_ := set $owned "upstream" (dict "url" (include "llm-safety-monitor.upstreamURL" .)) }}
{{- end }}
{{- toYaml (mustMergeOverwrite (deepCopy .Values.config) $owned) }}
{{- end }}

{{/*
Refuse value combinations the schema cannot express with a clear message.
*/}}
{{- define "llm-safety-monitor.validate" -}}
{{- if and .Values.autoscaling.enabled (eq .Values.mode "sidecar") }}
{{- fail "autoscaling.enabled: the HorizontalPodAutoscaler is for standalone and tap modes; in sidecar mode the model server's own scaling decides" }}
{{- end }}
{{- if and .Values.persistence.enabled (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) }}
{{- fail "persistence.enabled: one checkpoint volume cannot hold the state of several replicas; use replicaCount: 1 or persistence.enabled: false" }}
{{- end }}
{{- end }}
