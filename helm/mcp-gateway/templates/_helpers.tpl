{{/* Gateway resource name. */}}
{{- define "mcp.gatewayName" -}}
{{- printf "%s-gateway" .Values.namePrefix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A backend's resource name (Deployment, Service, ServiceAccount): <namePrefix>-<backend>. */}}
{{- define "mcp.backendName" -}}
{{- $name := printf "%s-%s" .root.Values.namePrefix .name -}}
{{- if gt (len $name) 63 -}}{{- fail (printf "backend %q: resource name %q is longer than 63 characters" .name $name) -}}{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "mcp.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcp-gateway
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "mcp.gatewaySelector" -}}
app.kubernetes.io/name: mcp-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "mcp.backendSelector" -}}
app.kubernetes.io/name: {{ include "mcp.backendName" . }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: backend
{{- end -}}

{{/* Backend labels: selector + server / access / environment. */}}
{{- define "mcp.backendLabels" -}}
{{ include "mcp.commonLabels" .root }}
{{ include "mcp.backendSelector" . }}
mcp.example.com/backend: {{ .name }}
mcp.example.com/server: {{ .b.server }}
mcp.example.com/access: {{ .b.access }}
mcp.example.com/environment: {{ .b.environment | quote }}
{{- end -}}

{{/* Image reference: {root, image (override map or nil)}. */}}
{{- define "mcp.image" -}}
{{- $img := mergeOverwrite (deepCopy .root.Values.image) (.image | default dict) -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (($img.tag | default .root.Chart.AppVersion) | toString) -}}
{{- end -}}
{{- end -}}

{{- define "mcp.imagePullPolicy" -}}
{{- $img := mergeOverwrite (deepCopy .root.Values.image) (.image | default dict) -}}
{{- $img.pullPolicy -}}
{{- end -}}

{{/* A backend entry with backendDefaults applied (returned as YAML). */}}
{{- define "mcp.backend" -}}
{{- $b := mergeOverwrite (deepCopy .root.Values.backendDefaults) (deepCopy .b) -}}
{{- toYaml $b -}}
{{- end -}}

{{/* DNS names a Service answers to (short, namespaced, svc, cluster.local). */}}
{{- define "mcp.serviceHosts" -}}
{{- $ns := .root.Release.Namespace -}}
{{- list .svc (printf "%s.%s" .svc $ns) (printf "%s.%s.svc" .svc $ns) (printf "%s.%s.svc.cluster.local" .svc $ns) | join "," -}}
{{- end -}}

{{/* The backends that are enabled, sorted names (as a YAML list). */}}
{{- define "mcp.enabledBackends" -}}
{{- $out := list -}}
{{- range $name := keys .Values.backends | sortAlpha -}}
{{- $b := index $.Values.backends $name -}}
{{- if ne (toString $b.enabled) "false" -}}{{- $out = append $out $name -}}{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The gateway config (gateway.yaml), rendered from values. */}}
{{- define "mcp.gatewayConfig" -}}
{{- $enabled := include "mcp.enabledBackends" . | fromYamlArray -}}
{{- $backends := dict -}}
{{- range $name := $enabled -}}
{{- $b := index $.Values.backends $name -}}
{{- $_ := set $backends $name (dict "url" (printf "http://%s:8080/mcp" (include "mcp.backendName" (dict "root" $ "name" $name))) "server" $b.server) -}}
{{- end -}}
{{- range $role, $entries := .Values.roleMapping -}}
{{- range $e := $entries -}}
{{- $n := $e -}}
{{- if kindIs "map" $e }}{{ $n = get $e "backend" }}{{ end -}}
{{- if not (hasKey $backends $n) -}}{{- fail (printf "roleMapping.%s names backend %q, which is not an enabled entry of backends" $role $n) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $svc := include "mcp.gatewayName" . -}}
{{- $hosts := splitList "," (include "mcp.serviceHosts" (dict "root" . "svc" $svc)) -}}
{{- range $h := .Values.gateway.ingress.hosts }}{{ $hosts = append $hosts $h }}{{ end -}}
{{- range $h := .Values.gateway.extraAllowedHosts }}{{ $hosts = append $hosts $h }}{{ end -}}
{{- $cfg := dict
  "listen" (printf "0.0.0.0:%d" 8080)
  "keys_file" "/etc/mcp-gateway/keys/keys.json"
  "backends" $backends
  "roleMapping" .Values.roleMapping
  "allowed_hosts" ($hosts | uniq)
  "allowed_origins" .Values.gateway.allowedOrigins
  "limits" .Values.gateway.limits
  "audit" .Values.gateway.audit -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Labels of gateway objects. */}}
{{- define "mcp.gatewayLabels" -}}
{{ include "mcp.commonLabels" . }}
{{ include "mcp.gatewaySelector" . }}
{{- end -}}

{{/* The image digest in effect (empty when the image is referenced by tag). */}}
{{- define "mcp.imageDigest" -}}
{{- $img := mergeOverwrite (deepCopy .root.Values.image) (.image | default dict) -}}
{{- $img.digest -}}
{{- end -}}

{{/* OpenTelemetry env of a pod when otel.enabled (nothing otherwise): {root, service,
     environment, gateway (bool), skip (dict of variables the pod's own env sets)}. The pod
     name comes first so that OTEL_RESOURCE_ATTRIBUTES can refer to it as $(MCP_POD_NAME). */}}
{{- define "mcp.otelEnv" -}}
{{- $o := .root.Values.otel -}}
{{- if $o.enabled -}}
{{- $skip := .skip | default dict -}}
{{- $attrs := list "service.instance.id=$(MCP_POD_NAME)" "k8s.pod.name=$(MCP_POD_NAME)" (printf "k8s.namespace.name=%s" .root.Release.Namespace) -}}
{{- with .environment }}{{ $attrs = append $attrs (printf "deployment.environment.name=%s" (toString .)) }}{{ end -}}
{{- range $k := keys ($o.resourceAttributes | default dict) | sortAlpha }}{{ $attrs = append $attrs (printf "%s=%s" $k (index $o.resourceAttributes $k | toString)) }}{{ end -}}
{{- $vars := dict "OTEL_EXPORTER_OTLP_ENDPOINT" $o.endpoint "OTEL_EXPORTER_OTLP_PROTOCOL" "http/protobuf" "OTEL_SERVICE_NAME" .service "OTEL_TRACES_SAMPLER" ($o.sampler | default "parentbased_always_on") "OTEL_RESOURCE_ATTRIBUTES" (join "," $attrs) -}}
{{- if ne (toString ($o.samplerArg | default "")) "" }}{{ $_ := set $vars "OTEL_TRACES_SAMPLER_ARG" (toString $o.samplerArg) }}{{ end -}}
{{- if .gateway }}{{ $_ := set $vars "MCP_TRACES_CLIENT_CONTEXT" ($o.clientContext | default "link") }}{{ end }}
- name: MCP_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- range $k := keys $vars | sortAlpha }}
{{- if not (hasKey $skip $k) }}
- name: {{ $k }}
  value: {{ index $vars $k | quote }}
{{- end }}
{{- end }}
{{- if and ($o.headers | default dict).secretName (not (hasKey $skip "OTEL_EXPORTER_OTLP_HEADERS")) }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ $o.headers.secretName }}
      key: {{ $o.headers.key }}
{{- end }}
{{- end -}}
{{- end -}}
