# shellcheck shell=bash
# What the edge benches share: the site (edge_write_site), its request classes, the redirect
# rules (write_rules), the nginx and h2o configurations that serve it, and starting those two.
# Source it after ../lib.sh; it defines functions and the class tables and starts nothing.
# Used by edge/run.sh (req/s and CPU) and edge/instructions.sh (callgrind counts).

# edge_nginx_pkg: the installed nginx package (Debian has several), else "nginx"
edge_nginx_pkg() {
  local p
  for p in nginx nginx-light nginx-core nginx-full nginx-extras; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && [[ -x /usr/sbin/nginx ]]; then
      echo "$p"
      return 0
    fi
  done
  echo nginx
}

# name, path, expected size (used by the scripts that source this file)
# shellcheck disable=SC2034
CLASSES=(small pretty asset big)
# shellcheck disable=SC2034
declare -A CLASS_PATH=([small]=/ [pretty]=/page-500/ [asset]=/assets/app.js [big]=/files/big.bin)
# shellcheck disable=SC2034
declare -A CLASS_FILE=([small]=index.html [pretty]=page-500/index.html [asset]=assets/app.js [big]=files/big.bin)
# shellcheck disable=SC2034
declare -A CLASS_LABEL=([small]="small (/, 2 KB)" [pretty]="pretty URL (/page-500/, 2 KB)" [asset]="asset (/assets/app.js, 150 KB)" [big]="big (/files/big.bin, 1 MB)")

EDGE_LOREM="Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
# about 2 KB of HTML for a given title
page_html() {
  local title=$1 body="" i
  for i in 1 2 3 4 5 6 7; do body+="    <p>$EDGE_LOREM</p>"$'\n'; done
  printf '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n  <title>%s</title>\n  <link rel="stylesheet" href="/assets/site.css">\n  <script src="/assets/app.js" defer></script>\n</head>\n<body>\n  <h1>%s</h1>\n  <main>\n%s  </main>\n</body>\n</html>\n' \
    "$title" "$title" "$body"
}

# edge_write_site DIR: a 2 KB index.html, 1000 pretty-URL pages /page-N/index.html, a 150 KB
# JavaScript-like /assets/app.js, /assets/site.css and a 1 MB random /files/big.bin
edge_write_site() {
  local site=$1 n
  mkdir -p "$site"
  page_html "Bench home" >"$site/index.html"
  for n in $(seq 1 1000); do
    mkdir -p "$site/page-$n"
    page_html "Page $n" >"$site/page-$n/index.html"
  done
  mkdir -p "$site/assets" "$site/files"
  # ~150 KB of JavaScript-looking text
  awk 'BEGIN {
    print "\"use strict\";";
    i = 0; size = 0;
    while (size < 153600) {
      line = sprintf("export function handler%d(event, ctx) {\n  const key = `item-${event.id}-%d`;\n  if (ctx.cache.has(key)) { return ctx.cache.get(key); }\n  const out = [event.a, event.b, %d].map((v) => (v * 31 + %d) %% 997).join(\",\");\n  ctx.cache.set(key, out);\n  return out;\n}\n", i, i, i, i * 7);
      printf "%s", line; size += length(line); i++;
    }
  }' >"$site/assets/app.js"
  printf 'body { font-family: sans-serif; max-width: 40em; margin: auto; }\n' >"$site/assets/site.css"
  head -c 1048576 /dev/urandom >"$site/files/big.bin"
  chmod -R a+rX "$site"
}

# write_rules COUNT FILE: a _redirects of COUNT rules of mixed kinds; none matches the classes'
# URLs. The last rule of each kind is COUNT-5..COUNT-1 (see run.sh's check_rule calls).
write_rules() {
  local count=$1 i
  {
    echo "# $count generated rules of mixed kinds; none matches /, /page-N/, /assets/, /files/"
    for ((i = 0; i < count; i++)); do
      case $((i % 5)) in
        0) echo "/old/path-$i  /new/path-$i  301" ;;
        1) echo "/blog-$i/*  /posts-$i/:splat  301" ;;
        2) echo "/news-$i/:year/:month/:slug  /articles-$i/:year/:month/:slug  302" ;;
        3) echo "/docs-$i/v1/*  /docs-$i/v2/:splat  200" ;;
        4) echo "/shop-$i/:category/*  https://shop.example.com/:category/:splat  301!" ;;
      esac
    done
  } >"$2"
}

# edge_write_nginx_conf DIR PORT SITE: DIR/nginx.conf, 2 workers, no access log, sendfile,
# unlimited keep-alive, try_files for pretty URLs, gzip off; its pid, logs and temp paths in DIR
edge_write_nginx_conf() {
  local dir=$1 port=$2 site=$3
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 2;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
$([[ $(id -u) -eq 0 ]] && echo "user $(id -un) $(id -gn);")
events { worker_connections 4096; }
http {
  types { text/html html; text/css css; application/javascript js; application/octet-stream bin; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  gzip off;
  gzip_static off;
  etag on;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port;
    server_name _;
    root $site;
    location / {
      try_files \$uri \$uri.html \$uri/index.html =404;
    }
  }
}
EOF
}

# edge_write_h2o_conf DIR PORT SITE: DIR/h2o.conf, 2 threads, file.dir SITE, no access log
edge_write_h2o_conf() {
  local dir=$1 port=$2 site=$3
  mkdir -p "$dir"
  cat >"$dir/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $port
num-threads: 2
$([[ $(id -u) -eq 0 ]] && echo "user: $(id -un)")
pid-file: $dir/h2o.pid
error-log: $dir/error.log
hosts:
  "default":
    paths:
      /:
        file.dir: $site
EOF
}

# edge_start SERVER DIR [PREFIX...]: starts nginx or h2o ($NGINX, $H2O) with DIR's configuration,
# behind the command PREFIX if given (e.g. valgrind and its options); output in DIR/stdout.log.
# Sets EDGE_PID (the process started; nginx's master) and records it for bench_cleanup.
edge_start() {
  local server=$1 dir=$2
  shift 2
  case $server in
    nginx) "$@" "$NGINX" -e "$dir/error.log" -p "$dir/" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 & ;;
    h2o) "$@" "$H2O" -c "$dir/h2o.conf" >"$dir/stdout.log" 2>&1 & ;;
    *) die "edge_start: unknown server $server" ;;
  esac
  EDGE_PID=$!
  BENCH_PIDS+=("$EDGE_PID")
}
