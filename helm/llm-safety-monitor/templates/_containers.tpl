{{/*
The monitor's container: `safety-monitor serve` (sidecar, standalone) or `safety-monitor tap`.
*/}}
{{- define "llm-safety-monitor.monitorContainer" -}}
- name: monitor
  image: {{ include "llm-safety-monitor.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: [safety-monitor]
  args:
    {{- if eq .Values.mode "tap" }}
    - tap
    - --config
    - {{ include "llm-safety-monitor.configDir" . }}/config.yaml
    - --bootstrap
    - {{ join "," .Values.tap.brokers | quote }}
    - --topic
    - {{ .Values.tap.topic | quote }}
    - --group
    - {{ .Values.tap.groupId | quote }}
    {{- else }}
    - serve
    - --config
    - {{ include "llm-safety-monitor.configDir" . }}/config.yaml
    {{- end }}
  ports:
    {{- if ne .Values.mode "tap" }}
    - name: proxy
      containerPort: {{ .Values.ports.proxy }}
      protocol: TCP
    {{- end }}
    - name: admin
      containerPort: {{ .Values.ports.admin }}
      protocol: TCP
  {{- with .Values.extraEnv }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.existingSecret }}
  envFrom:
    - secretRef:
        name: {{ . }}
  {{- end }}
  volumeMounts:
    - name: config
      mountPath: {{ include "llm-safety-monitor.configDir" . }}
      readOnly: true
    - name: state
      mountPath: {{ .Values.persistence.mountPath }}
    - name: tmp
      mountPath: /tmp
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.livenessProbe }}
  livenessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.readinessProbe }}
  readinessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The user's model server, in sidecar mode: clients reach it only through the monitor.
*/}}
{{- define "llm-safety-monitor.modelServerContainer" -}}
{{- $m := .Values.modelServer -}}
- name: {{ $m.name }}
  image: {{ printf "%s:%s" $m.image.repository $m.image.tag }}
  imagePullPolicy: {{ $m.image.pullPolicy }}
  {{- with $m.command }}
  command:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $m.args }}
  args:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: model
      containerPort: {{ $m.port }}
      protocol: TCP
  {{- with $m.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $m.envFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $m.volumeMounts }}
  volumeMounts:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
  {{- with index $m $probe }}
  {{ $probe }}:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- with $m.lifecycle }}
  lifecycle:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $m.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $m.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
