"""Purpose-scoping that the machine enforces: Unix accounts and groups per user and project environment, POSIX
ACLs on lakes, scoped AWS credentials, process isolation and resource limits.

Shared by the features that run a user's code (notebook servers in :mod:`paved.spawner`, pipeline runs in
:mod:`paved.pipelines`) or open storage to a project (:mod:`paved.catalog`'s access grants). Imports only
:mod:`paved.core`.
"""
