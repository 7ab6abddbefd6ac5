# Runs "$@" under umask 077: redis and redis-sentinel rewrite their config files (CONFIG REWRITE, a failover), and the copies must stay 0600 like the originals, which hold the password.
umask 077
exec "$@"
