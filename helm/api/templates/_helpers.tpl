{{/*
Chart name, truncated to 63 characters (the DNS label limit of Kubernetes names).
*/}}
{{- define "api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name when it already contains the
chart name. Truncated to 63 characters.
*/}}
{{- define "api.fullname" -}}
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
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "api.labels" -}}
helm.sh/chart: {{ include "api.chart" . }}
{{ include "api.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.app.version | default .Chart.AppVersion | replace "+" "_" | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (a Deployment's selector is immutable).
*/}}
{{- define "api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
*/}}
{{- define "api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository@digest when a digest is set, repository:tag otherwise.
*/}}
{{- define "api.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}
{{- end }}

{{/*
Pod annotations: Prometheus scrape annotations (when metrics are on) merged with podAnnotations;
an explicit podAnnotations entry wins.
*/}}
{{- define "api.podAnnotations" -}}
{{- $annotations := dict }}
{{- if .Values.metrics.enabled }}
{{- $_ := set $annotations "prometheus.io/scrape" "true" }}
{{- $_ := set $annotations "prometheus.io/port" (toString .Values.containerPort) }}
{{- $_ := set $annotations "prometheus.io/path" "/metrics" }}
{{- end }}
{{- $annotations = mergeOverwrite $annotations (.Values.podAnnotations | default dict) }}
{{- if $annotations }}
{{- toYaml $annotations }}
{{- end }}
{{- end }}

{{/*
Service annotations: the AWS Load Balancer Controller's NLB annotations for a LoadBalancer
Service, merged with service.annotations (an explicit entry wins).
*/}}
{{- define "api.serviceAnnotations" -}}
{{- $annotations := dict }}
{{- if eq .Values.service.type "LoadBalancer" }}
{{- $_ := set $annotations "service.beta.kubernetes.io/aws-load-balancer-type" "external" }}
{{- $_ := set $annotations "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type" "ip" }}
{{- $_ := set $annotations "service.beta.kubernetes.io/aws-load-balancer-scheme" .Values.service.loadBalancer.scheme }}
{{- end }}
{{- $annotations = mergeOverwrite $annotations (.Values.service.annotations | default dict) }}
{{- if $annotations }}
{{- toYaml $annotations }}
{{- end }}
{{- end }}

{{/*
Checks that values.schema.json cannot express (they compare two values or need a readable
message). Each failure names the value and the allowed form.
*/}}
{{- define "api.validateValues" -}}
{{- $errors := list }}
{{- if not .Values.image.repository }}
{{- $errors = append $errors "image.repository is required: the image repository without a tag, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/api" }}
{{- end }}
{{- if not .Values.image.tag }}
{{- $errors = append $errors "image.tag is required: an immutable tag such as sha-<commit> or release-<semver>" }}
{{- else if eq (lower .Values.image.tag) "latest" }}
{{- $errors = append $errors "image.tag must not be \"latest\": a mutable tag does not roll pods and cannot be rolled back; use sha-<commit> or release-<semver>" }}
{{- end }}
{{- $delay := int .Values.shutdown.delaySeconds }}
{{- $timeout := int .Values.shutdown.timeoutSeconds }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- if le $timeout $delay }}
{{- $errors = append $errors (printf "shutdown.timeoutSeconds (%d) must exceed shutdown.delaySeconds (%d): the API counts its timeout from SIGTERM, delay included, and refuses to start otherwise" $timeout $delay) }}
{{- end }}
{{- if le $grace (add $delay $timeout) }}
{{- $errors = append $errors (printf "terminationGracePeriodSeconds (%d) must exceed shutdown.delaySeconds + shutdown.timeoutSeconds (%d + %d = %d): the preStop pause and the drain must finish before the kubelet kills the pod" $grace $delay $timeout (add $delay $timeout)) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- $errors = append $errors (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- $floor := ternary (int .Values.autoscaling.minReplicas) (int .Values.replicaCount) .Values.autoscaling.enabled }}
{{- $minAvailable := .Values.podDisruptionBudget.minAvailable }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "string" $minAvailable)) (ge (int $minAvailable) $floor) }}
{{- $errors = append $errors (printf "podDisruptionBudget.minAvailable (%d) must be lower than the replica count (%d), or no pod could ever be evicted and node drains would hang; lower it, add replicas, or set podDisruptionBudget.enabled=false" (int $minAvailable) $floor) }}
{{- end }}
{{- if eq (include "api.serviceAccountName" .) "default" }}
{{- $errors = append $errors "serviceAccount: the pods must not run as the namespace's \"default\" ServiceAccount; set serviceAccount.create=true or name an existing one in serviceAccount.name" }}
{{- end }}
{{- if and .Values.networkPolicy.defaultDeny (not .Values.networkPolicy.enabled) }}
{{- $errors = append $errors "networkPolicy.defaultDeny needs networkPolicy.enabled: a namespace-wide deny without the API's own policy would cut the API off" }}
{{- end }}
{{- if and .Values.colour (ne .Values.service.type "ClusterIP") }}
{{- $errors = append $errors (printf "service.type must be ClusterIP in a colour release (colour=%s): the stable Service outside the chart is the public one, a second load balancer would serve whichever colour it selects" .Values.colour) }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
{{- $errors = append $errors "ingress.hosts must list at least one host when ingress.enabled is true" }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nVALUES VALIDATION:\n- %s" (join "\n- " $errors)) }}
{{- end }}
{{- end }}

{{/*
Labels of the helm test pod: distinct from the API's selector labels, so neither the Service,
the PodDisruptionBudget nor the NetworkPolicy mistakes it for an API pod.
*/}}
{{- define "api.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-test" (include "api.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{/*
Egress rule admitting DNS (UDP and TCP 53) to the cluster's resolver, from networkPolicy.dnsTo.
*/}}
{{- define "api.dnsEgressRule" -}}
- to:
    {{- toYaml .Values.networkPolicy.dnsTo | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
