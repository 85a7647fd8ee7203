"""`textgan train`: the whole pipeline: MLE pretraining, D pretraining, adversarial training."""

from __future__ import annotations

import argparse

from textgan.cli.builders import build_discriminator, build_estimator, discriminator_optimizer
from textgan.cli.common import add_config_args
from textgan.cli.evaluators import periodic_evaluator
from textgan.cli.report import print_metrics
from textgan.cli.run import Session, check_finite, open_session, rank_state, restore_rng, run_mle_phase
from textgan.config_io import load_config
from textgan.estimators.registry import ESTIMATORS
from textgan.training import distributed
from textgan.training.adversarial import pretrain_discriminator, train_adversarial


def estimator_choices() -> dict[str, list[str]]:
    """Allowed values of config keys whose options come from registries."""
    from textgan.estimators.losses import LOSS_NAMES

    return {"adversarial.estimator": list(ESTIMATORS), "adversarial.gan_loss": list(LOSS_NAMES)}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="MLE pretraining, D pretraining, then adversarial training (SeqGAN and friends)",
        description="Run the whole text-GAN pipeline in run.dir: (1) MLE pretraining of the generator (skipped "
                    "with --init-from or when resuming past it), (2) discriminator pretraining, (3) adversarial "
                    "rounds of {generator steps; discriminator steps on fresh samples}. Every epoch/round writes "
                    "metrics.jsonl and checkpoints/last.pt; --resume continues mid-phase.\n\n"
                    f"Estimators (adversarial.estimator=...): {', '.join(ESTIMATORS)}.\n"
                    "Example:\n  textgan train --config oracle run.dir=runs/seqgan adversarial.rounds=50",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(parser)
    parser.add_argument("--init-from", metavar="CKPT",
                        help="start from the generator of another run (a pretrained checkpoint) and skip MLE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides, choices=estimator_choices())
    distributed.init_from_environment(cfg.run.device)
    session = open_session(cfg, resume=args.resume, init_from=args.init_from)
    a = cfg.adversarial
    estimator = build_estimator(cfg, session.data.max_len, total_generator_steps=a.rounds * a.g_steps)
    feature_size = cfg.generator.hidden_size
    # An estimator may bring its own discriminator (build_discriminator -> module, or None for the configured CNN).
    own = getattr(estimator, "build_discriminator", None)
    discriminator = own(session.data.tokenizer.vocab_size, feature_size) if own is not None else None
    if discriminator is None:
        discriminator = build_discriminator(cfg, session.data.tokenizer.vocab_size, estimator.discriminator_input,
                                            feature_size)
    discriminator = discriminator.to(session.device)
    session.models["discriminator"] = discriminator
    session.optimizers["discriminator"] = discriminator_optimizer(cfg, discriminator, cfg.d_pretrain.lr)
    session.extra_state["estimator"] = estimator.state_dict
    payload = getattr(session, "resumed_payload", None)
    if payload is not None and "discriminator" in payload["models"]:
        discriminator.load_state_dict(payload["models"]["discriminator"])
        session.optimizers["discriminator"].load_state_dict(payload["optimizers"]["discriminator"])
        own_state = rank_state(payload, session.rank, session.world_size)["extra"]
        _load_estimator(estimator, own_state.get("estimator", {}), session)
    distributed.broadcast_parameters(discriminator)
    # Every registered estimator's D loss reaches every D parameter (tests/training/test_distributed.py checks
    # it): no find_unused_parameters, whose graph walk costs every step. G losses read D unwrapped and frozen.
    session.models["discriminator"] = distributed.wrap(discriminator, session.device)
    restore_rng(session)
    evaluate = periodic_evaluator(session)
    before = None
    if session.phase == "mle":
        run_mle_phase(session, evaluate)
    if session.phase == "d_pretrain":
        before = evaluate() if session.rank == 0 else None
        session.progress.setdefault("mle_metrics", before or {})
        _d_pretrain(session, estimator)
    if session.phase == "adversarial":
        _adversarial(session, estimator, evaluate)
    if session.rank == 0:
        before = session.progress.get("mle_metrics") or before or {}
        after = evaluate()
        print_metrics(f"after MLE pretraining ({session.run_dir}/checkpoints/mle.pt)", before)
        print_metrics(f"after adversarial training, {cfg.adversarial.estimator} "
                      f"({session.run_dir}/checkpoints/last.pt)", after)
    distributed.shutdown()
    return 0


def _load_estimator(estimator: object, state: dict, session: Session) -> None:
    try:
        estimator.load_state_dict(state, session.generator)  # type: ignore[attr-defined]
    except TypeError:
        estimator.load_state_dict(state)  # type: ignore[attr-defined]


def _progress(session: Session) -> bool:
    from textgan.cli.run import _tty

    return session.cfg.run.progress and _tty()


def _d_pretrain(session: Session, estimator: object) -> None:
    cfg = session.cfg.d_pretrain

    def on_round_end(state: dict) -> None:
        check_finite(session, {})
        session.progress["d_pretrain"] = dict(state)
        session.save()

    state = session.progress.setdefault("d_pretrain", {})
    pretrain_discriminator(estimator, session.generator, session.models["discriminator"],
                           session.optimizers["discriminator"], session.data.train, session.data.valid,
                           rounds=cfg.rounds, epochs=cfg.epochs, num_samples=cfg.num_samples,
                           batch_size=cfg.batch_size, clip=session.cfg.adversarial.clip, seed=session.cfg.run.seed,
                           device=session.device, log=session.log, state=state, on_round_end=on_round_end,
                           progress=_progress(session), rank=session.rank, world_size=session.world_size,
                           reduce_metrics=distributed.mean_metrics)
    # The adversarial phase has its own learning rates.
    a = session.cfg.adversarial
    for group in session.optimizers["discriminator"].param_groups:
        group["lr"] = a.d_lr
    for group in session.optimizers["generator"].param_groups:
        group["lr"] = a.g_lr
    session.phase = "adversarial"
    session.save()


def _adversarial(session: Session, estimator: object, evaluate) -> None:
    a = session.cfg.adversarial

    def on_round_end(state: dict) -> None:
        check_finite(session, {})
        session.progress["adversarial"] = dict(state)
        session.save()

    state = session.progress.setdefault("adversarial", {})
    train_adversarial(estimator, session.generator, session.models["discriminator"],
                      session.optimizers["generator"], session.optimizers["discriminator"], session.data.train,
                      rounds=a.rounds, g_steps=a.g_steps, d_steps=a.d_steps, d_epochs=a.d_epochs,
                      d_num_samples=a.d_num_samples, batch_size=a.batch_size, clip=a.clip, mle_steps=a.mle_steps,
                      eval_every=a.eval_every, seed=session.cfg.run.seed, device=session.device, log=session.log,
                      state=state, on_round_end=on_round_end, evaluate=evaluate if session.rank == 0 else None,
                      progress=_progress(session), rank=session.rank, world_size=session.world_size,
                      reduce_metrics=distributed.mean_metrics)
    session.phase = "done"
    session.save()
    session.save("adversarial.pt")
