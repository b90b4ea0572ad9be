{{- define "tugboat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tugboat.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tugboat.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "tugboat.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "tugboat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tugboat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "tugboat.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tugboat.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tugboat.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The scheduler name job pods get: explicit, else the chart's scheduler when it is on. */}}
{{- define "tugboat.jobSchedulerName" -}}
{{- if .Values.jobs.schedulerName -}}
{{- .Values.jobs.schedulerName -}}
{{- else if .Values.scheduler.enabled -}}
{{- .Values.scheduler.profileName -}}
{{- end -}}
{{- end -}}

{{/* The PDB's API version: what the cluster serves (install, or template --validate), else by
     its version (plain helm template knows groups, not their kinds). policy/v1 from 1.21;
     policy/v1beta1 is gone in 1.25. */}}
{{- define "tugboat.pdbApiVersion" -}}
{{- if .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" -}}
policy/v1
{{- else if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* kubescheduler.config.k8s.io version for the cluster's kube-scheduler. */}}
{{- define "tugboat.schedulerConfigApiVersion" -}}
{{- if .Values.scheduler.configApiVersion -}}
{{- .Values.scheduler.configApiVersion -}}
{{- else if semverCompare ">=1.25-0" .Capabilities.KubeVersion.Version -}}
v1
{{- else if semverCompare ">=1.22-0" .Capabilities.KubeVersion.Version -}}
v1beta2
{{- else -}}
v1beta1
{{- end -}}
{{- end -}}

{{/* Render-time checks: a configuration that cannot work fails `helm install` with why. */}}
{{- define "tugboat.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) -}}
{{- fail (printf "replicaCount %d needs PostgreSQL: set database.existingSecret to a Secret holding the URL (key %q), or use replicaCount: 1 with SQLite" (int .Values.replicaCount) .Values.database.urlKey) -}}
{{- end -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- if not .Values.persistence.enabled -}}
{{- fail (printf "replicaCount %d needs persistence.enabled: run logs are files under data_dir that every replica reads; use a ReadWriteMany volume" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (not .Values.persistence.existingClaim) (not (has "ReadWriteMany" .Values.persistence.accessModes)) -}}
{{- fail (printf "replicaCount %d needs persistence.accessModes [ReadWriteMany] (e.g. EFS, Filestore, CephFS): every replica reads the run logs the others write" (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- if lt (int .Values.replicaCount) 1 -}}
{{- fail "replicaCount must be at least 1" -}}
{{- end -}}
{{- if not .Values.jobNamespaces -}}
{{- fail "jobNamespaces is empty: list at least one namespace where job pods run, e.g. [{name: batch}]" -}}
{{- end -}}
{{- if not (has .Values.spark.uiAccess (list "direct" "apiserver")) -}}
{{- fail (printf "spark.uiAccess %q must be direct or apiserver" .Values.spark.uiAccess) -}}
{{- end -}}
{{- end -}}
