{{/* Labels on every object this chart renders itself (the jupyterhub subchart labels its own). */}}
{{- define "paved.labels" -}}
app.kubernetes.io/name: paved
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
