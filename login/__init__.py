"""Login Flow v2 and v1 (``login.md``): how Talk Android, iOS, the desktop client and nc_py_api
add an account. The browser pages end with an app password for the client."""
