{{/*
Chart name, cut to 63 characters because Kubernetes names and label values
are limited to that.
*/}}
{{- define "paymento-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: the release name, followed by the chart name
unless the release name already contains it. It is cut to 52 characters, so
the longest suffix the chart adds ("-grpc", "-admin") and the StatefulSet's
PersistentVolumeClaim names ("data-<name>-0") stay within 63.
*/}}
{{- define "paymento-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "paymento-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the pods. They never change after the first install,
because a workload's selector is immutable.
*/}}
{{- define "paymento-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paymento-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "paymento-bridge.labels" -}}
helm.sh/chart: {{ include "paymento-bridge.chart" . }}
{{ include "paymento-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paymento-bridge
{{- end }}

{{/*
Name of the pods' ServiceAccount.
*/}}
{{- define "paymento-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "paymento-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository with the digest when one is set, otherwise with
the tag, which defaults to the chart's appVersion.
*/}}
{{- define "paymento-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret with the webhook secrets and the gRPC tokens.
*/}}
{{- define "paymento-bridge.secretName" -}}
{{- default (include "paymento-bridge.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
Name of the Secret with the PostgreSQL URL.
*/}}
{{- define "paymento-bridge.storeSecretName" -}}
{{- default (include "paymento-bridge.secretName" .) .Values.store.postgres.existingSecret }}
{{- end }}

{{/*
Folders where Secrets are mounted. Each is a whole Secret volume, never a
subPath, so Kubernetes can swap the files when a Secret changes.
*/}}
{{- define "paymento-bridge.secretsDir" -}}
/etc/paymento-bridge/secrets
{{- end }}
{{- define "paymento-bridge.httpTlsDir" -}}
/etc/paymento-bridge/http-tls
{{- end }}
{{- define "paymento-bridge.grpcTlsDir" -}}
/etc/paymento-bridge/grpc-tls
{{- end }}

{{/*
Fails the render on value combinations that would deploy a broken or
unauthenticated bridge. The messages name the value and what to set.
*/}}
{{- define "paymento-bridge.validate" -}}
{{- $sqlite := eq .Values.store.type "sqlite" }}
{{- if and $sqlite (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount is %d, but store.type=sqlite runs exactly one pod: set store.type=postgres to run several replicas" (int .Values.replicaCount)) }}
{{- end }}
{{- if and $sqlite .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled needs several replicas, which store.type=sqlite cannot run: set store.type=postgres or autoscaling.enabled=false" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) is greater than autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and (not .Values.grpc.tokens.enabled) (not (and .Values.grpc.tls.enabled .Values.grpc.tls.clientCA)) }}
{{- fail "grpc.tokens.enabled=false would expose gRPC without authentication: keep the tokens, or set grpc.tls.enabled=true and grpc.tls.clientCA=true for mutual TLS" }}
{{- end }}
{{- if and .Values.grpc.tls.enabled (not .Values.grpc.tls.existingSecret) }}
{{- fail "grpc.tls.enabled=true needs grpc.tls.existingSecret, the name of a Secret with tls.crt and tls.key (and ca.crt for grpc.tls.clientCA)" }}
{{- end }}
{{- if and .Values.grpc.tls.clientCA (not .Values.grpc.tls.enabled) }}
{{- fail "grpc.tls.clientCA=true needs grpc.tls.enabled=true" }}
{{- end }}
{{- if and .Values.http.tls.enabled (not .Values.http.tls.existingSecret) }}
{{- fail "http.tls.enabled=true needs http.tls.existingSecret, the name of a Secret with tls.crt and tls.key" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
{{- fail "ingress.enabled=true needs at least one host name in ingress.hosts" }}
{{- end }}
{{- end }}
