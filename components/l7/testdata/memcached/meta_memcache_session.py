import sys
from meta_memcache import CacheClient, ServerAddress, Key, connection_pool_factory_builder
c = CacheClient.cache_client_from_servers(
    servers=[ServerAddress(host="127.0.0.1", port=int(sys.argv[1]))],
    connection_pool_factory_fn=connection_pool_factory_builder(),
)
c.set(key=Key("user:42"), value="secret-value", ttl=300)
c.get(key=Key("user:42"))
c.multi_get(keys=[Key("user:42"), Key("user:43")])
c.touch(key=Key("user:42"), ttl=60)
c.delta_initialize(key=Key("counter"), delta=1, initial_value=10, initial_ttl=60)
c.delete(key=Key("user:42"))
