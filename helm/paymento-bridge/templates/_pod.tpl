{{/*
Pod template shared by the StatefulSet (SQLite) and the Deployment
(PostgreSQL).

The admin and gRPC ports bind the pod IP instead of 127.0.0.1, so the
kubelet's probes and Prometheus can reach them. The gRPC port is protected by
tokens or mutual TLS (see paymento-bridge.validate). Secrets reach the
container only as files from Secret volumes, and the PostgreSQL URL through
secretKeyRef.
*/}}
{{- define "paymento-bridge.podTemplate" -}}
{{- $secretsDir := include "paymento-bridge.secretsDir" . }}
{{- $httpTlsDir := include "paymento-bridge.httpTlsDir" . }}
{{- $grpcTlsDir := include "paymento-bridge.grpcTlsDir" . -}}
metadata:
  labels:
    {{- include "paymento-bridge.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: server
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Restarts the pods when a setting in the ConfigMap changes. Secrets are
    # re-read from their files while the pods run.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "paymento-bridge.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  # Service links would add variables such as PAYMENTO_BRIDGE_GRPC_PORT for
  # the chart's own Services, with the bridge's PAYMENTO_BRIDGE_ prefix.
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: paymento-bridge
      image: {{ include "paymento-bridge.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      # NOTE: "$(POD_IP):port" is right for IPv4 pod addresses only. An
      # IPv6 address would need brackets, which the chart does not add.
      args:
        - serve
        - --grpc-listen=$(POD_IP):{{ .Values.containerPorts.grpc }}
        - --admin-listen=$(POD_IP):{{ .Values.containerPorts.admin }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "paymento-bridge.fullname" . }}
      env:
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        - name: PAYMENTO_WEBHOOK_SECRET_FILE
          value: {{ printf "%s/webhook-secret" $secretsDir }}
        {{- if .Values.ipn.enabled }}
        - name: PAYMENTO_IPN_SECRET_FILE
          value: {{ printf "%s/ipn-secret" $secretsDir }}
        {{- end }}
        {{- if .Values.grpc.tokens.enabled }}
        - name: PAYMENTO_BRIDGE_GRPC_TOKEN_FILE
          value: {{ printf "%s/grpc-token" $secretsDir }}
        - name: PAYMENTO_BRIDGE_ADMIN_TOKEN_FILE
          value: {{ printf "%s/admin-token" $secretsDir }}
        {{- end }}
        {{- if eq .Values.store.type "postgres" }}
        - name: PAYMENTO_BRIDGE_STORE
          valueFrom:
            secretKeyRef:
              name: {{ include "paymento-bridge.storeSecretName" . }}
              key: {{ .Values.store.postgres.secretKey }}
        {{- end }}
        {{- if .Values.http.tls.enabled }}
        - name: PAYMENTO_BRIDGE_TLS_CERT
          value: {{ printf "%s/tls.crt" $httpTlsDir }}
        - name: PAYMENTO_BRIDGE_TLS_KEY
          value: {{ printf "%s/tls.key" $httpTlsDir }}
        {{- end }}
        {{- if .Values.grpc.tls.enabled }}
        - name: PAYMENTO_BRIDGE_GRPC_TLS_CERT
          value: {{ printf "%s/tls.crt" $grpcTlsDir }}
        - name: PAYMENTO_BRIDGE_GRPC_TLS_KEY
          value: {{ printf "%s/tls.key" $grpcTlsDir }}
        {{- if .Values.grpc.tls.clientCA }}
        - name: PAYMENTO_BRIDGE_GRPC_TLS_CLIENT_CA
          value: {{ printf "%s/ca.crt" $grpcTlsDir }}
        {{- end }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.containerPorts.http }}
          protocol: TCP
        - name: admin
          containerPort: {{ .Values.containerPorts.admin }}
          protocol: TCP
        - name: grpc
          containerPort: {{ .Values.containerPorts.grpc }}
          protocol: TCP
      startupProbe:
        httpGet:
          path: /healthz
          port: admin
        {{- toYaml .Values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: admin
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: admin
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        {{- if eq .Values.store.type "sqlite" }}
        - name: data
          mountPath: /var/lib/paymento-bridge
        {{- end }}
        - name: tmp
          mountPath: /tmp
        - name: secrets
          mountPath: {{ $secretsDir }}
          readOnly: true
        {{- if .Values.http.tls.enabled }}
        - name: http-tls
          mountPath: {{ $httpTlsDir }}
          readOnly: true
        {{- end }}
        {{- if .Values.grpc.tls.enabled }}
        - name: grpc-tls
          mountPath: {{ $grpcTlsDir }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    # SQLite writes temporary files to /tmp, and the root filesystem is
    # read-only.
    - name: tmp
      emptyDir:
        sizeLimit: 256Mi
    - name: secrets
      secret:
        secretName: {{ include "paymento-bridge.secretName" . }}
        defaultMode: 0440
        items:
          - key: {{ .Values.secrets.webhookSecretKey }}
            path: webhook-secret
          {{- if .Values.ipn.enabled }}
          - key: {{ .Values.secrets.ipnSecretKey }}
            path: ipn-secret
          {{- end }}
          {{- if .Values.grpc.tokens.enabled }}
          - key: {{ .Values.secrets.grpcTokenKey }}
            path: grpc-token
          - key: {{ .Values.secrets.adminTokenKey }}
            path: admin-token
          {{- end }}
    {{- if .Values.http.tls.enabled }}
    - name: http-tls
      secret:
        secretName: {{ .Values.http.tls.existingSecret }}
        defaultMode: 0440
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
    {{- end }}
    {{- if .Values.grpc.tls.enabled }}
    - name: grpc-tls
      secret:
        secretName: {{ .Values.grpc.tls.existingSecret }}
        defaultMode: 0440
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
          {{- if .Values.grpc.tls.clientCA }}
          - key: ca.crt
            path: ca.crt
          {{- end }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- tpl (toYaml .) $ | nindent 4 }}
  {{- end }}
{{- end }}
