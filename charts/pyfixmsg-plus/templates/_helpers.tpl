{{/* The release's full name, at most 63 characters. */}}
{{- define "fixplus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fixplus.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "fixplus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pyfixmsg-plus
{{- end -}}

{{/* With serviceAccount.create=false the schema requires a name: the RBAC
is never bound to the namespace's "default" ServiceAccount. */}}
{{- define "fixplus.serviceAccountName" -}}
{{- default (include "fixplus.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "fixplus.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Namespaces whose FixSessions, FixClusters and MessageStores are reconciled. */}}
{{- define "fixplus.clusterwide" -}}
{{- if not .Values.watch.namespaces -}}true{{- end -}}
{{- end -}}

{{- define "fixplus.kv" -}}
{{- $out := list -}}
{{- range $k, $v := . -}}
{{- $out = append $out (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join ", " $out -}}
{{- end -}}
