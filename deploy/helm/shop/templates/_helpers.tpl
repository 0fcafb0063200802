{{/* Names and labels. */}}
{{- define "shop.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "shop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries; `component` names the role (server, migrations, ...). */}}
{{- define "shop.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{ include "shop.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: shop
{{- end -}}

{{/*
The label prometheus-operator takes the `job` label from (jobLabel): the rules and dashboards
select job="shop" and job="locust", as in every other deployment of the shop.
*/}}
{{- define "shop.jobLabelKey" -}}shop.monitoring/job{{- end -}}

{{- define "shop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shop.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "shop.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Non-root, read-only root filesystem, no capability, no privilege escalation. */}}
{{- define "shop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "shop.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}

{{/* Where MariaDB and Redis are: the trial instance's Service, or the external host. */}}
{{- define "shop.dbHost" -}}
{{- if .Values.database.trial.enabled -}}
{{ include "shop.fullname" . }}-mariadb
{{- else -}}
{{ required "database.host is required (or database.trial.enabled for a trial cluster)" .Values.database.host }}
{{- end -}}
{{- end -}}

{{- define "shop.redisHost" -}}
{{- if .Values.redis.trial.enabled -}}
{{ include "shop.fullname" . }}-redis
{{- else -}}
{{ required "redis.host is required (or redis.trial.enabled for a trial cluster)" .Values.redis.host }}
{{- end -}}
{{- end -}}

{{- define "shop.secretName" -}}
{{ required "secret.name is required: an existing Secret with the admin token, auth secret and DB password" .Values.secret.name }}
{{- end -}}

{{/*
The most connections the shop can hold at once: every pod the autoscaler may reach plus the
rollout's surge pod, each with a full pool per worker and the readiness probe's own short
connection. They must fit MariaDB's max_connections beside the reserved ones; the render fails
otherwise (docs/scaling.md).
*/}}
{{- define "shop.connectionBudget" -}}
{{- $replicas := .Values.replicaCount -}}
{{- if .Values.autoscaling.enabled -}}{{- $replicas = .Values.autoscaling.maxReplicas -}}{{- end -}}
{{- $pods := add $replicas .Values.rollout.maxSurge -}}
{{- $perPod := add (mul .Values.shop.workers .Values.shop.dbPoolMax) 1 -}}
{{- $needed := add (mul $pods $perPod) .Values.database.reservedConnections -}}
{{- if gt (int $needed) (int .Values.database.maxConnections) -}}
{{- fail (printf "connection budget: %d pods x (%d workers x %d pool + 1 readiness probe) + %d reserved = %d > database.maxConnections %d (lower autoscaling.maxReplicas, shop.workers or shop.dbPoolMax)" (int $pods) (int .Values.shop.workers) (int .Values.shop.dbPoolMax) (int .Values.database.reservedConnections) (int $needed) (int .Values.database.maxConnections)) -}}
{{- end -}}
{{- end -}}

{{/* The environment the server and the migrations Job share: settings, then secrets. */}}
{{- define "shop.env" -}}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "shop.secretName" . }}, key: {{ .Values.secret.dbPasswordKey }}}
{{- with .Values.secret.redisPasswordKey }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "shop.secretName" $ }}, key: {{ . }}}
{{- end }}
- name: SHOP_ADMIN_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ include "shop.secretName" . }}, key: {{ .Values.secret.adminTokenKey }}}
- name: SHOP_AUTH_SECRET
  valueFrom:
    secretKeyRef: {name: {{ include "shop.secretName" . }}, key: {{ .Values.secret.authSecretKey }}}
{{- /* Kubernetes expands $(VAR) from the entries above: the passwords never sit in a value. */}}
- name: SHOP_DB_URL
  value: {{ printf "mysql://%s:$(DB_PASSWORD)@%s:%d/%s" .Values.database.user (include "shop.dbHost" .) (int .Values.database.port) .Values.database.name | quote }}
- name: SHOP_REDIS_URL
  value: {{ printf "redis://%s%s:%d/%d" (ternary ":$(REDIS_PASSWORD)@" "" (not (empty .Values.secret.redisPasswordKey))) (include "shop.redisHost" .) (int .Values.redis.port) (int .Values.redis.db) | quote }}
- name: SHOP_LOCK_BACKEND
  value: redis
- name: SHOP_ENV
  value: {{ .Values.shop.env | quote }}
- name: SHOP_LOG_LEVEL
  value: {{ .Values.shop.logLevel | quote }}
- name: PYTHONDONTWRITEBYTECODE  # the root filesystem is read-only
  value: "1"
{{- with .Values.collector.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_SERVICE_NAME
  value: shop
{{- end }}
{{- with .Values.shop.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Per-worker metrics ports, named metrics-<i>, when a pod runs several workers. */}}
{{- define "shop.metricsPorts" -}}
{{- if gt (int .Values.shop.workers) 1 -}}
{{- range $i := until (int .Values.shop.workers) }}
- name: metrics-{{ $i }}
  containerPort: {{ add $.Values.shop.metricsPort $i }}
  protocol: TCP
{{- end }}
{{- end -}}
{{- end -}}

{{/* NetworkPolicy peers of a datastore: the trial instance's pods, or the values' peers. */}}
{{- define "shop.peers" -}}
{{- if .trial -}}
- podSelector:
    matchLabels:
      {{- include "shop.selectorLabels" (dict "root" .root "component" .component) | nindent 6 }}
{{- else if .peers -}}
{{ toYaml .peers }}
{{- end -}}
{{- end -}}
