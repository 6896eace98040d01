"""Build the Hub repository folder for a gpt_hf model (pretrained, fine-tuned or converted) and upload it.

Examples:
    python scripts/push_to_hub.py --model_dir outputs/tiny-pretrained --repo_id me/tiny-gpt --dry_run true
    python scripts/push_to_hub.py --model_dir outputs/rte --repo_id me/gpt1-rte --private true
The token comes from HF_TOKEN or your saved login (`hf auth login`); it is never printed or written.
"""

import sys
from dataclasses import dataclass, field

from gpt_hf.cli import entry_points
from gpt_hf.interop.hub import build_hub_folder, check_repo_id, upload
from gpt_hf.output.paths import check_writable_folder


@dataclass
class PushArguments:
    model_dir: str = field(metadata={"help": "The gpt_hf model folder to publish."})
    repo_id: str = field(metadata={"help": "Hub repository, e.g. user/name."})
    local_dir: str | None = field(
        default=None, metadata={"help": "Where to build the folder (default: <model_dir>-hub)."}
    )
    dry_run: bool = field(default=False, metadata={"help": "Build the folder and stop (no upload)."})
    private: bool = field(default=False, metadata={"help": "Create the repository as private."})
    revision: str | None = field(default=None, metadata={"help": "Branch to upload to (created if needed)."})
    create_pr: bool = field(default=False, metadata={"help": "Open a pull request instead of committing."})
    commit_message: str = field(default="Upload gpt_hf model", metadata={"help": "Commit message."})
    endpoint: str | None = field(default=None, metadata={"help": "Hub endpoint (default: HF_ENDPOINT or the Hub)."})
    overwrite_local_dir: bool = field(default=True, metadata={"help": "Rebuild an existing local folder."})

    def __post_init__(self):
        check_repo_id(self.repo_id)
        check_writable_folder(self.local_dir or f"{self.model_dir.rstrip('/')}-hub", "--local_dir")


def run(args: PushArguments) -> int:
    folder = build_hub_folder(
        args.model_dir,
        args.local_dir or f"{args.model_dir.rstrip('/')}-hub",
        repo_id=args.repo_id,
        overwrite=args.overwrite_local_dir,
    )
    print(f"Built {folder}")
    if args.dry_run:
        return 0
    url = upload(
        folder,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        create_pr=args.create_pr,
        commit_message=args.commit_message,
        endpoint=args.endpoint,
    )  # HubUploadError: one line, exit 1
    print(f"Uploaded: {url}")
    return 0


parse, main = entry_points((PushArguments,), run)

if __name__ == "__main__":
    sys.exit(main())
