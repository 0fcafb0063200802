"""MariaDB/MySQL adapters: the pool, migrations and one repository module per noun."""
