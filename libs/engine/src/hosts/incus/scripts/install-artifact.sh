set -eu
user=$1 app=$2
id -u "$user" >/dev/null 2>&1 || useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$user"
rm -rf "$app.new"
mkdir -p "$app.new"
tar -xf - -C "$app.new" --no-same-owner
rm -rf "$app"
mv "$app.new" "$app"
