{{/*
Names and labels.
*/}}
{{- define "redrive.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "redrive.fullname" -}}
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

{{- define "redrive.selectorLabels" -}}
app.kubernetes.io/name: {{ include "redrive.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "redrive.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "redrive.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/component: consumer
app.kubernetes.io/part-of: redrive
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "redrive.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "redrive.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "redrive.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
redrive.flagValue renders one value as a `redrive run` flag value, or ""
when the value is not set so that the binary's own default applies:
null and "" are unset, false is unset (every boolean flag defaults to
false), numbers print as integers (YAML numbers arrive as float64, which
would print 1e+06), lists join with commas (the list flags split on them).
*/}}
{{- define "redrive.flagValue" -}}
{{- $k := kindOf . -}}
{{- if eq $k "invalid" -}}
{{- else if eq $k "bool" -}}{{ if . }}true{{ end }}
{{- else if or (eq $k "float64") (eq $k "float32") -}}{{ int64 . }}
{{- else if or (eq $k "int") (eq $k "int64") (eq $k "int32") (eq $k "uint64") -}}{{ . }}
{{- else if eq $k "slice" -}}{{ join "," . }}
{{- else if eq $k "string" -}}{{ . }}
{{- else -}}{{ fail (printf "redrive: a %s cannot be a flag value: %v" $k .) }}
{{- end -}}
{{- end }}

{{/*
redrive.mounts: where the Secrets the flags point at are mounted. One
place, so the volumes, the mounts and the flags cannot disagree.
*/}}
{{- define "redrive.mounts" -}}
kafkaCA: /etc/redrive/kafka-ca
kafkaClient: /etc/redrive/kafka-client
kafkaSASL: /etc/redrive/kafka-sasl
enrich: /etc/redrive/enrich
parquet: /etc/redrive/parquet
{{- end }}

{{/*
redrive.args is the container's argument list as JSON: the `run`
subcommand, then one --flag=value per value that is set. Each entry of
$flags is (flag name, value); the values file lists them in the same
groups and order as `redrive run --help`.
*/}}
{{- define "redrive.args" -}}
{{- $v := .Values -}}
{{- $m := include "redrive.mounts" . | fromYaml -}}
{{- $k := $v.kafka -}}
{{- $t := $v.topics -}}
{{- $e := $v.enrich -}}
{{- $s := $v.s3 -}}
{{- $caFile := "" -}}
{{- if $k.tls.caSecret.name }}{{ $caFile = printf "%s/ca.crt" $m.kafkaCA }}{{ end -}}
{{- $certFile := "" -}}{{- $keyFile := "" -}}
{{- if $k.tls.clientCertSecret.name }}
{{- $certFile = printf "%s/tls.crt" $m.kafkaClient }}
{{- $keyFile = printf "%s/tls.key" $m.kafkaClient }}
{{- end -}}
{{- $passwordFile := "" -}}
{{- if $k.sasl.passwordSecret.name }}{{ $passwordFile = printf "%s/password" $m.kafkaSASL }}{{ end -}}
{{- if empty $k.brokers }}{{ fail "kafka.brokers is required (--brokers): a list of host:port" }}{{ end -}}
{{- if empty $t.input }}{{ fail "topics.input is required (--input-topic)" }}{{ end -}}
{{- if empty $s.bucket }}{{ fail "s3.bucket is required (--s3-bucket)" }}{{ end -}}
{{- $headersFile := "" -}}
{{- if $e.headersSecret.name }}{{ $headersFile = printf "%s/headers" $m.enrich }}{{ end -}}
{{- $schemaFile := "" -}}
{{- if $v.batch.parquetSchema }}{{ $schemaFile = printf "%s/schema.yaml" $m.parquet }}{{ end -}}
{{- if and (eq (toString $v.batch.format) "parquet") (not $v.batch.parquetSchema) }}{{ fail "batch.parquetSchema is required with batch.format parquet (--parquet-schema): the output's columns" }}{{ end -}}
{{- if and $v.batch.parquetSchema (ne (toString $v.batch.format) "parquet") }}{{ fail "batch.parquetSchema is only read with batch.format parquet" }}{{ end -}}
{{- $flags := list
  (list "brokers" $k.brokers)
  (list "client-id" $k.clientId)
  (list "kafka-version" $k.version)
  (list "tls" $k.tls.enabled)
  (list "tls-ca-file" $caFile)
  (list "tls-cert-file" $certFile)
  (list "tls-key-file" $keyFile)
  (list "tls-insecure-skip-verify" $k.tls.insecureSkipVerify)
  (list "sasl-mechanism" $k.sasl.mechanism)
  (list "sasl-password-file" $passwordFile)
  (list "group" $t.group)
  (list "session-timeout" $t.sessionTimeout)
  (list "heartbeat-interval" $t.heartbeatInterval)
  (list "rebalance-timeout" $t.rebalanceTimeout)
  (list "input-topic" $t.input)
  (list "dlq-topic" $t.dlq)
  (list "parking-topic" $t.parking)
  (list "start-offset" $t.startOffset)
  (list "tombstones" $t.tombstones)
  (list "create-topics" $t.create)
  (list "partitions" $t.partitions)
  (list "replication-factor" $t.replicationFactor)
  (list "enrich-when" $e.when)
  (list "enrich-url" $e.url)
  (list "enrich-method" $e.method)
  (list "enrich-field" $e.field)
  (list "enrich-timeout" $e.timeout)
  (list "enrich-concurrency" $e.concurrency)
  (list "enrich-retries" $e.retries)
  (list "enrich-header" $e.headers)
  (list "enrich-headers-file" $headersFile)
  (list "breaker-failures" $e.breakerFailures)
  (list "breaker-open-for" $e.breakerOpenFor)
  (list "lookup-topic" $v.lookup.topic)
  (list "lookup-key" $v.lookup.key)
  (list "lookup-miss" $v.lookup.miss)
  (list "lookup-dir" $v.lookup.dir)
  (list "lookup-max-bytes" $v.lookup.maxBytes)
  (list "cache-ttl" $v.lookup.cacheTtl)
  (list "cache-size" $v.lookup.cacheSize)
  (list "s3-bucket" $s.bucket)
  (list "s3-prefix" $s.prefix)
  (list "s3-endpoint" $s.endpoint)
  (list "s3-region" $s.region)
  (list "s3-path-style" $s.pathStyle)
  (list "s3-sse" $s.sse)
  (list "s3-sse-kms-key-id" $s.sseKmsKeyId)
  (list "batch-max-records" $v.batch.maxRecords)
  (list "batch-max-bytes" $v.batch.maxBytes)
  (list "batch-max-age" $v.batch.maxAge)
  (list "format" $v.batch.format)
  (list "parquet-schema" $schemaFile)
  (list "parquet-row-group-bytes" $v.batch.parquetRowGroupBytes)
  (list "compression" $v.batch.compression)
  (list "gzip-level" $v.batch.gzipLevel)
  (list "partition-time" $v.batch.partitionTime)
  (list "partition-layout" $v.batch.partitionLayout)
  (list "retry-base" $v.retry.base)
  (list "retry-max-delay" $v.retry.maxDelay)
  (list "max-attempts" $v.retry.maxAttempts)
  (list "max-age" $v.retry.maxAge)
  (list "max-pending" $v.windows.maxPending)
  (list "max-pending-bytes" $v.windows.maxPendingBytes)
  (list "max-pending-bytes-total" $v.windows.maxPendingBytesTotal)
  (list "max-waiting" $v.windows.maxWaiting)
  (list "max-record-bytes" $v.windows.maxRecordBytes)
  (list "fetch-bytes" $v.windows.fetchBytes)
  (list "commit-interval" $v.windows.commitInterval)
  (list "http-addr" (printf ":%d" (int $v.http.port)))
  (list "shutdown-grace" $v.shutdownGrace)
  (list "log-level" $v.logging.level)
  (list "log-format" $v.logging.format)
-}}
{{- $args := list "run" -}}
{{- range $flags -}}
{{- $val := include "redrive.flagValue" (index . 1) -}}
{{- if ne $val "" -}}
{{- $args = append $args (printf "--%s=%s" (index . 0) $val) -}}
{{- end -}}
{{- end -}}
{{- $args = concat $args ($v.extraArgs | default list) -}}
{{- toJson $args -}}
{{- end }}

{{/*
redrive.graceSeconds parses shutdownGrace (a Go duration made of whole
hours, minutes and seconds, e.g. 45s or 1m30s) into seconds, so that
terminationGracePeriodSeconds is derived from the very value passed to
--shutdown-grace.
*/}}
{{- define "redrive.graceSeconds" -}}
{{- $d := toString .Values.shutdownGrace -}}
{{- if or (eq $d "") (not (regexMatch "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$" $d)) -}}
{{- fail (printf "shutdownGrace: %q must be whole hours, minutes and seconds such as 30s or 1m30s" $d) -}}
{{- end -}}
{{- $h := regexFind "[0-9]+h" $d | trimSuffix "h" | default "0" | atoi -}}
{{- $mi := regexFind "[0-9]+m" $d | trimSuffix "m" | default "0" | atoi -}}
{{- $sec := regexFind "[0-9]+s" $d | trimSuffix "s" | default "0" | atoi -}}
{{- add (mul $h 3600) (mul $mi 60) $sec -}}
{{- end }}

{{/*
redrive.kedaMax is the ScaledObject's maxReplicaCount: at most the input
topic's partition count, since pods beyond it only stand by.
*/}}
{{- define "redrive.kedaMax" -}}
{{- $p := .Values.topics.partitions -}}
{{- if not $p -}}
{{- fail "autoscaling.enabled needs topics.partitions: the input topic's partition count caps the replicas" -}}
{{- end -}}
{{- $max := .Values.autoscaling.maxReplicaCount | default $p -}}
{{- if gt (int $max) (int $p) -}}
{{- fail (printf "autoscaling.maxReplicaCount (%v) exceeds topics.partitions (%v): pods beyond the partition count would only stand by" $max $p) -}}
{{- end -}}
{{- int $max -}}
{{- end }}

{{/*
redrive.replicaCap is an autoscaler's maximum: the value given (max) or,
by default, the input topic's partition count, which it may not exceed
since pods beyond it only stand by. what names the value in errors.
*/}}
{{- define "redrive.replicaCap" -}}
{{- $p := .root.Values.topics.partitions -}}
{{- if not $p -}}
{{- fail (printf "%s defaults to topics.partitions, which is not set: give the input topic's partition count" .what) -}}
{{- end -}}
{{- $max := .max | default $p -}}
{{- if gt (int $max) (int $p) -}}
{{- fail (printf "%s (%v) exceeds topics.partitions (%v): pods beyond the partition count would only stand by" .what $max $p) -}}
{{- end -}}
{{- int $max -}}
{{- end }}
