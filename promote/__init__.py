"""Paved's pipelines (folder ``promote/``, installed as ``paved.pipelines``): promote a parameterized notebook
into a pipeline (``paved promote``, :mod:`.cli`), its spec (:mod:`.spec`), the scheduler and runner, data-aware
triggers, data products (checks, versions, freshness), the pipelines service (``python -m paved.pipelines.app``)
with its API (:mod:`.service`) and pages (:mod:`.pages`), and CronJobs/Jobs on Kubernetes (:mod:`.k8s`,
:mod:`.kube_client`)."""
