{{- define "faas-kubelet.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "faas-kubelet.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "faas-kubelet.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "faas-kubelet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "faas-kubelet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* faas-kubelet's config file: values.config with the chart's TLS paths
and the leader election Lease named after the release. */}}
{{- define "faas-kubelet.config" -}}
{{- $c := deepCopy .Values.config -}}
{{- if .Values.servingCert.secretName -}}
{{- $tls := dict "certFile" "/etc/faas-kubelet/tls/tls.crt" "keyFile" "/etc/faas-kubelet/tls/tls.key" -}}
{{- if .Values.servingCert.clientCASecret -}}
{{- $_ := set $tls "clientCAFile" "/etc/faas-kubelet/client-ca/ca.crt" -}}
{{- end -}}
{{- $_ := set $c "tls" $tls -}}
{{- end -}}
{{- $le := default dict $c.leaderElection -}}
{{- if and $le.enabled (not $le.name) -}}
{{- $_ := set $le "name" (include "faas-kubelet.fullname" .) -}}
{{- $_ := set $c "leaderElection" $le -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}
