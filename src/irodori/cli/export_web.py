"""``irodori export-web DIR``: the painting page as a static site that colorizes in the browser."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("export-web", help="write the page as a static site that colorizes in the browser",
                       description="Write DIR: the page of `irodori serve`, the model as ONNX and ONNX Runtime Web "
                                   "(WASM), so that any static file server (python -m http.server, a project page) "
                                   "hosts it and the browser colorizes on its own. The JS packages (onnxruntime-web, "
                                   "fflate, ag-psd; pinned in irodori.web.site.VENDORED) are fetched with `npm pack` "
                                   "now and copied in with their licences. README: \"The page without a server\".")
    p.add_argument("out", metavar="DIR", help="a new or empty directory")
    p.add_argument("--model", default="demo", help="bundled model name, .safetensors file or run directory")
    p.add_argument("--precision", default="int8",
                   help="the model's weights: int8 (default; 11.6 MB, the site stays within 25 MB) or fp32 "
                        "(45 MB; for comparison)")


def run(args) -> int:
    from irodori.web.site import export_site

    summary = export_site(args.out, args.model, args.precision)
    print(f"wrote {args.out}: {summary['files']} files, {summary['bytes'] / 1e6:.1f} MB (model {args.model}, "
          f"{summary['precision']}; {', '.join(summary['packages'])}). Host it with any static file server, "
          f"e.g. `python -m http.server -d {args.out}`.")
    return 0
