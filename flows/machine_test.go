package flows_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/internal/textlint"
)

// live is a state of chat A on a live screen with revision 7 in message 55.
func live(name flows.StateName, appID, refID int64, reason string) flows.State {
	return flows.State{Name: name, Lang: flows.Russian, IIN: iinA, Rev: 7, MsgID: 55, AppID: appID, RefID: refID, Reason: reason}
}

func unbound() flows.State {
	return flows.State{Name: flows.SUnbound, Lang: flows.Russian, Rev: 7, MsgID: 55}
}

func signing(appID, refID int64) flows.State {
	st := live(flows.SRevokeSigning, appID, refID, "Переезд")
	st.Nonce, st.LinkURL, st.LinkExp = "nonce-9", "https://sign.kezekbot.example/l/9", t0.Add(10*time.Minute)
	return st
}

func TestStep(t *testing.T) {
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	tests := []struct {
		name    string
		chat    int64
		st      flows.State
		ev      flows.Event
		setup   func(*fixture)
		want    flows.StateName
		effects string
		wantErr bool
		check   func(t *testing.T, f *fixture, st flows.State, sc flows.Screen)
	}{
		// /start and language
		{name: "start new unbound kk", chat: 77, st: flows.State{}, ev: flows.Start{TelegramLang: "kk-KZ"},
			want: flows.SUnbound, effects: "show(welcome,new)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.Lang != flows.Kazakh || sc.Lang != flows.Kazakh {
					t.Errorf("lang = %q, want kk", st.Lang)
				}
				if !hasButton(sc, flows.ActBind) || hasButton(sc, flows.ActApps) {
					t.Errorf("unbound welcome buttons: %v", buttons(sc))
				}
			}},
		{name: "start new bound en→ru", chat: chatA, st: flows.State{}, ev: flows.Start{TelegramLang: "en"},
			want: flows.SMenu, effects: "show(welcome,new)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.Lang != flows.Russian || !st.IIN.Equal(iinA) || !hasButton(sc, flows.ActApps) {
					t.Errorf("state %+v buttons %v", st, buttons(sc))
				}
			}},
		{name: "start keeps chosen language", chat: chatA, st: flows.State{Name: flows.SMenu, Lang: flows.Kazakh, IIN: iinA, Rev: 3}, ev: flows.Start{TelegramLang: "ru"},
			want: flows.SMenu, effects: "show(welcome,new)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if st.Lang != flows.Kazakh {
					t.Errorf("lang = %q", st.Lang)
				}
			}},
		{name: "start store down", chat: chatA, st: flows.State{}, ev: flows.Start{}, setup: func(f *fixture) { f.data.err = errBoom },
			want: flows.SNew, effects: "show(error,new,err=internal)", wantErr: true},
		{name: "lang command kk", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: flows.Command{Name: "lang", Arg: "kk"},
			want: flows.SMenu, effects: "show(menu,new)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if st.Lang != flows.Kazakh {
					t.Errorf("lang = %q", st.Lang)
				}
			}},
		{name: "lang command without arg", chat: chatA, st: live(flows.SCard, 1, 0, ""), ev: flows.Command{Name: "/LANG@kezekbot"},
			want: flows.SCard, effects: "show(lang,new)"},
		{name: "lang button then current screen", chat: chatA, st: live(flows.SCard, 1, 0, ""), ev: press(live(flows.SCard, 1, 0, ""), flows.ActLangKK, 0),
			want: flows.SCard, effects: "answer() show(card)"},

		// binding
		{name: "bind issues AUTH link", chat: 77, st: unbound(), ev: press(unbound(), flows.ActBind, 0),
			want: flows.SBinding, effects: "answer() show(bind_link)",
			check: func(t *testing.T, f *fixture, st flows.State, sc flows.Screen) {
				if len(f.links.issued) != 1 || f.links.issued[0].Action != kezekbot.ActionBind || f.links.issued[0].ChatID != 77 {
					t.Errorf("issued %+v", f.links.issued)
				}
				if st.Nonce != "nonce-1" || sc.Link == nil || sc.Link.URL != st.LinkURL || !strings.Contains(strings.Join(buttons(sc), " "), "url:btn.sign_auth") {
					t.Errorf("state %+v screen link %+v", st, sc.Link)
				}
			}},
		{name: "bind link failure keeps state", chat: 77, st: unbound(), ev: press(unbound(), flows.ActBind, 0), setup: func(f *fixture) { f.links.err = errBoom },
			want: flows.SUnbound, effects: "answer() show(error,err=internal)", wantErr: true},
		{name: "signed bind ok", chat: 77, st: flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, Nonce: "n1", LinkURL: "https://x.example/1", LinkExp: t0.Add(time.Minute)},
			ev:   flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", OK: true, IIN: iinA},
			want: flows.SMenu, effects: "show(bound,new)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if !st.IIN.Equal(iinA) || st.Nonce != "" || st.LinkURL != "" {
					t.Errorf("state %+v", st)
				}
			}},
		{name: "signed bind with another nonce is ignored", chat: 77, st: flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, Nonce: "n2"},
			ev: flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", OK: true, IIN: iinA}, want: flows.SBinding, effects: ""},
		{name: "signed bind failed", chat: 77, st: flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, Nonce: "n1"},
			ev: flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", Code: kezekbot.EFORBIDDEN}, want: flows.SUnbound, effects: "show(welcome,new,error.forbidden)"},
		{name: "eGov mobile signature refused keeps the link", chat: 77, st: flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, Nonce: "n1", LinkURL: "https://x.example/1", LinkExp: t0.Add(time.Minute)},
			ev:   flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", Rejected: flows.RejectedWrongKey},
			want: flows.SBinding, effects: "show(bind_link,new,egov.rejected.wrong_key_bind)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.Nonce != "n1" || st.LinkURL != "https://x.example/1" || sc.Link == nil || sc.Link.URL != st.LinkURL {
					t.Errorf("state %+v, screen link %+v", st, sc.Link)
				}
			}},
		{name: "eGov mobile refusal of unknown kind", chat: 77, st: flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, Nonce: "n1", LinkURL: "https://x.example/1", LinkExp: t0.Add(time.Minute)},
			ev:   flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", Rejected: "<b>new</b>"},
			want: flows.SBinding, effects: "show(bind_link,new,egov.rejected.other)"},
		{name: "eGov mobile signature after the link expired", chat: 77, st: flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, Nonce: "n1", LinkURL: "https://x.example/1", LinkExp: t0.Add(-time.Second)},
			ev:   flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", Rejected: flows.RejectedExpired},
			want: flows.SUnbound, effects: "show(welcome,new,egov.rejected.expired)"},
		{name: "eGov mobile refusal for another link is ignored", chat: 77, st: flows.State{Name: flows.SBinding, Lang: flows.Russian, Rev: 7, Nonce: "n2", LinkURL: "https://x.example/2", LinkExp: t0.Add(time.Minute)},
			ev: flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", Rejected: flows.RejectedAltered}, want: flows.SBinding, effects: ""},
		{name: "eGov mobile refusal outside a signing screen is ignored", chat: 77, st: live(flows.SMenu, 0, 0, ""),
			ev: flows.Signed{Action: kezekbot.ActionBind, Nonce: "n1", Rejected: flows.RejectedAltered}, want: flows.SMenu, effects: ""},
		{name: "typed IIN is never proof", chat: 77, st: unbound(), ev: flows.Text{Text: "791028 302728"},
			want: flows.SUnbound, effects: "show(welcome,new,notice.iin_not_proof)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if !st.IIN.IsZero() {
					t.Errorf("typed IIN bound the chat")
				}
			}},
		{name: "journal while unbound", chat: 77, st: unbound(), ev: press(unbound(), flows.ActApps, 0),
			want: flows.SUnbound, effects: "answer(answer.bind_first) show(welcome,notice.bind_first)"},
		{name: "logout", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: flows.Command{Name: "logout"},
			want: flows.SUnbound, effects: "show(logged_out,new)",
			check: func(t *testing.T, f *fixture, st flows.State, _ flows.Screen) {
				if !st.IIN.IsZero() || !f.data.bound[chatA].IsZero() {
					t.Errorf("still bound: %+v", st)
				}
			}},
		{name: "logout button", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: press(live(flows.SMenu, 0, 0, ""), flows.ActLogout, 0),
			want: flows.SUnbound, effects: "answer() show(logged_out)"},

		// journal and card
		{name: "journal first page", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: press(live(flows.SMenu, 0, 0, ""), flows.ActApps, 0),
			want: flows.SList, effects: "answer() show(list)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if len(sc.Apps) != 5 || sc.Pages != 2 || sc.Total != 9 || sc.Apps[0].ID != 1 {
					t.Errorf("page: %d apps, %d pages, total %d, first %d", len(sc.Apps), sc.Pages, sc.Total, sc.Apps[0].ID)
				}
				if !hasButton(sc, flows.ActApps) {
					t.Errorf("no next-page button: %v", buttons(sc))
				}
			}},
		{name: "journal page out of range clamps", chat: chatA, st: live(flows.SList, 0, 0, ""), ev: press(live(flows.SList, 0, 0, ""), flows.ActApps, 1<<40),
			want: flows.SList, effects: "answer() show(list)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.Page != 1 || sc.Page != 1 || len(sc.Apps) != 4 {
					t.Errorf("page %d, %d apps", sc.Page, len(sc.Apps))
				}
			}},
		{name: "open card with revocable referral", chat: chatA, st: live(flows.SList, 0, 0, ""), ev: press(live(flows.SList, 0, 0, ""), flows.ActOpen, 2),
			want: flows.SCard, effects: "answer() show(card)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.AppID != 2 || sc.App == nil || sc.App.ID != 2 {
					t.Fatalf("card of %d", st.AppID)
				}
				if !hasButton(sc, flows.ActRevoke) || !hasButton(sc, flows.ActExtend) || !hasButton(sc, flows.ActReferral) {
					t.Errorf("buttons %v", buttons(sc))
				}
			}},
		{name: "card after 24h has no revoke button", chat: chatA, st: live(flows.SList, 0, 0, ""), ev: press(live(flows.SList, 0, 0, ""), flows.ActOpen, 3),
			want: flows.SCard, effects: "answer() show(card)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if hasButton(sc, flows.ActRevoke) || !hasButton(sc, flows.ActExtend) {
					t.Errorf("buttons %v", buttons(sc))
				}
			}},
		{name: "card of a queued application", chat: chatA, st: live(flows.SList, 0, 0, ""), ev: press(live(flows.SList, 0, 0, ""), flows.ActOpen, 1),
			want: flows.SCard, effects: "answer() show(card)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if hasButton(sc, flows.ActRevoke) || hasButton(sc, flows.ActExtend) {
					t.Errorf("buttons %v", buttons(sc))
				}
			}},
		{name: "open another applicant's application", chat: chatA, st: live(flows.SList, 0, 0, ""), ev: press(live(flows.SList, 0, 0, ""), flows.ActOpen, 100),
			want: flows.SList, effects: "answer() show(error,err=not_found)", wantErr: true},
		{name: "history", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: press(live(flows.SCard, 2, 0, ""), flows.ActHistory, 2),
			want: flows.SHistory, effects: "answer() show(history)"},
		{name: "documents", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: press(live(flows.SCard, 2, 0, ""), flows.ActDocs, 2),
			want: flows.SDocs, effects: "answer() show(docs)"},
		{name: "extend", chat: chatA, st: live(flows.SCard, 3, 0, ""), ev: press(live(flows.SCard, 3, 0, ""), flows.ActExtend, 3),
			want: flows.SExtend, effects: "answer() show(extend)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if sc.Ref == nil || sc.Ref.ID != 30 {
					t.Errorf("extend ref %+v", sc.Ref)
				}
			}},
		{name: "referral details", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: press(live(flows.SCard, 2, 0, ""), flows.ActReferral, 20),
			want: flows.SReferral, effects: "answer() show(referral)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				b := strings.Join(buttons(sc), " ")
				if st.RefID != 20 || !strings.Contains(b, "url:btn.map_2gis") || !strings.Contains(b, "pick:20") {
					t.Errorf("buttons %s", b)
				}
			}},
		{name: "referral of another application", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: press(live(flows.SCard, 2, 0, ""), flows.ActReferral, 1000),
			want: flows.SCard, effects: "answer() show(error,err=not_found)", wantErr: true},
		{name: "back from card to journal", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: press(live(flows.SCard, 2, 0, ""), flows.ActBack, 0),
			want: flows.SList, effects: "answer() show(list)"},
		{name: "back from history to card", chat: chatA, st: live(flows.SHistory, 2, 0, ""), ev: press(live(flows.SHistory, 2, 0, ""), flows.ActOpen, 2),
			want: flows.SCard, effects: "answer() show(card)"},

		// revoke
		{name: "revoke single referral goes to reason", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: press(live(flows.SCard, 2, 0, ""), flows.ActRevoke, 2),
			want: flows.SRevokeReason, effects: "answer() show(revoke_reason)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.RefID != 20 || !hasButton(sc, flows.ActCancel) || !hasButton(sc, flows.ActReasonPreset) {
					t.Errorf("state %+v buttons %v", st, buttons(sc))
				}
			}},
		{name: "revoke two referrals asks which", chat: chatA, st: live(flows.SCard, 4, 0, ""), ev: press(live(flows.SCard, 4, 0, ""), flows.ActRevoke, 4),
			want: flows.SRevokePick, effects: "answer() show(revoke_pick)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				b := strings.Join(buttons(sc), " ")
				if !strings.Contains(b, "pick:40") || !strings.Contains(b, "pick:41") || !strings.Contains(b, "cancel:0") {
					t.Errorf("buttons %s", b)
				}
			}},
		{name: "revoke after the window is refused", chat: chatA, st: live(flows.SCard, 3, 0, ""), ev: press(live(flows.SCard, 3, 0, ""), flows.ActRevoke, 3),
			want: flows.SCard, effects: "answer(answer.refused) show(refused)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if sc.Refusal == nil || sc.Refusal.Reason != kezekbot.RefusalWindowClosed || !sc.Refusal.ClosedAt.Equal(t0.Add(-6*time.Hour)) {
					t.Errorf("refusal %+v", sc.Refusal)
				}
			}},
		{name: "pick referral", chat: chatA, st: live(flows.SRevokePick, 4, 0, ""), ev: press(live(flows.SRevokePick, 4, 0, ""), flows.ActPickReferral, 41),
			want: flows.SRevokeReason, effects: "answer() show(revoke_reason)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if st.RefID != 41 {
					t.Errorf("ref %d", st.RefID)
				}
			}},
		{name: "pick another applicant's referral", chat: chatA, st: live(flows.SRevokePick, 4, 0, ""), ev: press(live(flows.SRevokePick, 4, 0, ""), flows.ActPickReferral, 1000),
			want: flows.SRevokePick, effects: "answer() show(error,err=not_found)", wantErr: true},
		{name: "preset reason", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: press(live(flows.SRevokeReason, 2, 20, ""), flows.ActReasonPreset, 1),
			want: flows.SRevokeConfirm, effects: "answer() show(revoke_confirm)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.Reason != "Переезд" || sc.Reason != "Переезд" || !hasButton(sc, flows.ActConfirm) || !hasButton(sc, flows.ActCancel) {
					t.Errorf("reason %q buttons %v", st.Reason, buttons(sc))
				}
			}},
		{name: "preset other asks to type", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: press(live(flows.SRevokeReason, 2, 20, ""), flows.ActReasonPreset, int64(len(flows.ReasonPresets)-1)),
			want: flows.SRevokeReason, effects: "answer() show(revoke_reason,notice.type_reason)"},
		{name: "preset out of range", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: press(live(flows.SRevokeReason, 2, 20, ""), flows.ActReasonPreset, 99),
			want: flows.SRevokeReason, effects: "answer(answer.stale) show(revoke_reason,notice.stale)"},
		{name: "typed reason", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: flows.Text{Text: "  Нашли сад\nрядом с работой "},
			want: flows.SRevokeConfirm, effects: "show(revoke_confirm,new)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if st.Reason != "Нашли сад рядом с работой" {
					t.Errorf("reason %q", st.Reason)
				}
			}},
		{name: "typed reason empty", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: flows.Text{Text: " \n "},
			want: flows.SRevokeReason, effects: "show(revoke_reason,new,notice.reason_invalid)"},
		{name: "typed reason too long", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: flows.Text{Text: strings.Repeat("я", 301)},
			want: flows.SRevokeReason, effects: "show(revoke_reason,new,notice.reason_too_long)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if sc.NoticeArgs["Max"] != kezekbot.MaxReasonLen {
					t.Errorf("notice args %v", sc.NoticeArgs)
				}
			}},
		{name: "typed reason with control characters", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: flows.Text{Text: "a\x00b"},
			want: flows.SRevokeReason, effects: "show(revoke_reason,new,notice.reason_invalid)"},
		{name: "confirm issues SIGN link with the bound IIN", chat: chatA, st: live(flows.SRevokeConfirm, 2, 20, "Переезд"), ev: press(live(flows.SRevokeConfirm, 2, 20, "Переезд"), flows.ActConfirm, 20),
			want: flows.SRevokeSigning, effects: "answer() show(sign_link)",
			check: func(t *testing.T, f *fixture, st flows.State, sc flows.Screen) {
				want := flows.SignRequest{ChatID: chatA, Action: kezekbot.ActionRevoke, Lang: flows.Russian, IIN: iinA, ApplicationID: 2, ReferralID: 20, Reason: "Переезд"}
				if len(f.links.issued) != 1 || f.links.issued[0] != want {
					t.Errorf("issued %+v", f.links.issued)
				}
				if st.Nonce != "nonce-1" || sc.Link == nil || sc.Link.URL == "" {
					t.Errorf("state %+v link %+v", st, sc.Link)
				}
			}},
		{name: "confirm after 24h is refused with fresh data", chat: chatA, st: live(flows.SRevokeConfirm, 2, 20, "Переезд"), ev: press(live(flows.SRevokeConfirm, 2, 20, "Переезд"), flows.ActConfirm, 20),
			setup: func(f *fixture) { f.now = at(22) },
			want:  flows.SCard, effects: "answer(answer.refused) show(refused)",
			check: func(t *testing.T, f *fixture, _ flows.State, sc flows.Screen) {
				if len(f.links.issued) != 0 {
					t.Errorf("a link was issued after the window: %+v", f.links.issued)
				}
				if sc.Refusal == nil || sc.Refusal.Reason != kezekbot.RefusalWindowClosed || !sc.Refusal.ClosedAt.Equal(at(22)) {
					t.Errorf("refusal %+v", sc.Refusal)
				}
			}},
		{name: "confirm when revoked elsewhere is refused", chat: chatA, st: live(flows.SRevokeConfirm, 2, 20, "Переезд"), ev: press(live(flows.SRevokeConfirm, 2, 20, "Переезд"), flows.ActConfirm, 20),
			setup: func(f *fixture) {
				f.data.setReferral(20, func(r *kezekbot.Referral) { r.State, r.ClosedAt = kezekbot.ReferralRevoked, t0 })
			},
			want: flows.SCard, effects: "answer(answer.refused) show(refused)",
			check: func(t *testing.T, f *fixture, _ flows.State, sc flows.Screen) {
				if len(f.links.issued) != 0 || sc.Refusal.Reason != kezekbot.RefusalNotActive {
					t.Errorf("issued %d, refusal %+v", len(f.links.issued), sc.Refusal)
				}
			}},
		{name: "confirm with signer down keeps the state", chat: chatA, st: live(flows.SRevokeConfirm, 2, 20, "Переезд"), ev: press(live(flows.SRevokeConfirm, 2, 20, "Переезд"), flows.ActConfirm, 20),
			setup: func(f *fixture) { f.links.err = errBoom },
			want:  flows.SRevokeConfirm, effects: "answer() show(error,err=internal)", wantErr: true,
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if st.Reason != "Переезд" || st.RefID != 20 || !hasButton(sc, flows.ActRefresh) {
					t.Errorf("state %+v", st)
				}
			}},
		{name: "forged confirm on a card is stale", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: press(live(flows.SCard, 2, 0, ""), flows.ActConfirm, 20),
			want: flows.SCard, effects: "answer(answer.stale) show(card,notice.stale)",
			check: func(t *testing.T, f *fixture, _ flows.State, _ flows.Screen) {
				if len(f.links.issued) != 0 {
					t.Errorf("issued %+v", f.links.issued)
				}
			}},
		{name: "stale confirm issues nothing", chat: chatA, st: live(flows.SRevokeConfirm, 2, 20, "Переезд"), ev: flows.Press{Action: flows.ActConfirm, ID: 20, Rev: 6, MsgID: 55},
			want: flows.SRevokeConfirm, effects: "answer(answer.stale) show(revoke_confirm,notice.stale)",
			check: func(t *testing.T, f *fixture, _ flows.State, _ flows.Screen) {
				if len(f.links.issued) != 0 {
					t.Errorf("issued %+v", f.links.issued)
				}
			}},
		{name: "stale press from an older message gets a new message", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: flows.Press{Action: flows.ActOpen, ID: 1, Rev: 3, MsgID: 40},
			want: flows.SCard, effects: "answer(answer.stale) show(card,new,notice.stale)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if st.AppID != 2 {
					t.Errorf("acted on a stale press: app %d", st.AppID)
				}
			}},
		{name: "press after the state expired", chat: chatA, st: flows.State{}, ev: flows.Press{Action: flows.ActConfirm, ID: 20, Rev: 7, MsgID: 55},
			want: flows.SMenu, effects: "answer(answer.stale) show(menu,new,notice.stale)",
			check: func(t *testing.T, f *fixture, _ flows.State, _ flows.Screen) {
				if len(f.links.issued) != 0 {
					t.Errorf("issued %+v", f.links.issued)
				}
			}},
		{name: "press with revision zero", chat: chatA, st: flows.State{Name: flows.SMenu, IIN: iinA}, ev: flows.Press{Action: flows.ActApps},
			want: flows.SMenu, effects: "answer(answer.stale) show(menu,new,notice.stale)"},
		{name: "bad press", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: flows.BadPress{},
			want: flows.SCard, effects: "answer(answer.stale) show(card,notice.stale)"},
		{name: "foreign press is a bad press", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: flows.ForeignPress{Data: "s:ok:0:3", MsgID: 55},
			want: flows.SCard, effects: "answer(answer.stale) show(card,notice.stale)"},
		{name: "foreign press after the state expired", chat: chatA, st: flows.State{}, ev: flows.ForeignPress{Data: "s:all:0:1", MsgID: 55},
			want: flows.SMenu, effects: "answer(answer.stale) show(menu,new,notice.stale)"},
		{name: "foreign press in a group", chat: -100, st: flows.State{}, ev: flows.ForeignPress{Data: "s:all:0:1", MsgID: 55},
			want: flows.SNew, effects: "answer(answer.private_only,alert)"},
		{name: "cancel on reason", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: press(live(flows.SRevokeReason, 2, 20, ""), flows.ActCancel, 0),
			want: flows.SCard, effects: "answer(answer.cancelled) show(card,notice.cancelled)"},
		{name: "cancel on confirm", chat: chatA, st: live(flows.SRevokeConfirm, 2, 20, "Переезд"), ev: press(live(flows.SRevokeConfirm, 2, 20, "Переезд"), flows.ActCancel, 0),
			want: flows.SCard, effects: "answer(answer.cancelled) show(card,notice.cancelled)",
			check: func(t *testing.T, _ *fixture, st flows.State, _ flows.Screen) {
				if st.Reason != "" || st.RefID != 0 {
					t.Errorf("state %+v", st)
				}
			}},
		{name: "cancel while signing kills the link", chat: chatA, st: signing(2, 20), ev: press(signing(2, 20), flows.ActCancel, 0),
			want: flows.SCard, effects: "answer(answer.cancelled) show(card,notice.cancelled)",
			check: func(t *testing.T, f *fixture, st flows.State, _ flows.Screen) {
				if len(f.links.cancelled) != 1 || f.links.cancelled[0] != "nonce-9" || st.LinkURL != "" {
					t.Errorf("cancelled %v state %+v", f.links.cancelled, st)
				}
			}},
		{name: "cancel command while picking", chat: chatA, st: live(flows.SRevokePick, 4, 0, ""), ev: flows.Command{Name: "cancel"},
			want: flows.SCard, effects: "show(card,new,notice.cancelled)"},
		{name: "back on confirm changes the reason", chat: chatA, st: live(flows.SRevokeConfirm, 2, 20, "Переезд"), ev: press(live(flows.SRevokeConfirm, 2, 20, "Переезд"), flows.ActBack, 0),
			want: flows.SRevokeReason, effects: "answer() show(revoke_reason)"},
		{name: "signed revoke ok", chat: chatA, st: signing(2, 20),
			ev: flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true, Result: kezekbot.RevokeResult{
				Application: kezekbot.Application{ID: 2, Number: "УО.2024.000002.1", ApplicantIIN: iinA, Status: kezekbot.StatusQueued, QueueNumber: 14},
				Referral:    kezekbot.Referral{ID: 20, ApplicationID: 2, State: kezekbot.ReferralRevoked, Kindergarten: kg(1, "ЧДС 1")},
			}},
			want: flows.SCard, effects: "show(link_used) show(revoked,new)",
			check: func(t *testing.T, _ *fixture, st flows.State, sc flows.Screen) {
				if sc.App.QueueNumber != 14 || sc.App.Status != kezekbot.StatusQueued || st.Nonce != "" {
					t.Errorf("screen %+v state %+v", sc.App, st)
				}
			}},
		{name: "signed revoke for another applicant is not shown", chat: chatA, st: signing(2, 20),
			ev: flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true, Result: kezekbot.RevokeResult{
				Application: kezekbot.Application{ID: 100, ApplicantIIN: iinB},
			}},
			want: flows.SRevokeSigning, effects: "show(link_used) show(error,new,err=not_found)", wantErr: true},
		{name: "signed revoke expired", chat: chatA, st: signing(2, 20), setup: func(f *fixture) { f.now = at(23) },
			ev:   flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", Code: kezekbot.EEXPIRED},
			want: flows.SCard, effects: "show(link_used) show(refused,new)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if sc.Refusal == nil || sc.Refusal.Reason != kezekbot.RefusalWindowClosed || !sc.Refusal.ClosedAt.Equal(at(22)) {
					t.Errorf("refusal %+v", sc.Refusal)
				}
			}},
		{name: "signed revoke expired while the clock says open", chat: chatA, st: signing(2, 20),
			ev:   flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", Code: kezekbot.EEXPIRED},
			want: flows.SCard, effects: "show(link_used) show(refused,new)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if sc.Refusal == nil || sc.Refusal.Reason != kezekbot.RefusalWindowClosed || !sc.Refusal.ClosedAt.Equal(at(22)) {
					t.Errorf("refusal %+v", sc.Refusal)
				}
			}},
		{name: "signed revoke forbidden", chat: chatA, st: signing(2, 20),
			ev:   flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", Code: kezekbot.EFORBIDDEN},
			want: flows.SRevokeSigning, effects: "show(link_used) show(error,new,err=forbidden)", wantErr: true},
		{name: "signed revoke after the state expired is still reported", chat: chatA, st: flows.State{},
			ev: flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true, Result: kezekbot.RevokeResult{
				Application: kezekbot.Application{ID: 2, ApplicantIIN: iinA, Status: kezekbot.StatusQueued, QueueNumber: 14},
			}},
			want: flows.SCard, effects: "show(revoked,new)"},
		{name: "signed revoke delivered twice is shown once", chat: chatA, st: flows.State{Name: flows.SCard, Lang: flows.Russian, IIN: iinA, Rev: 7, AppID: 2},
			ev:   flows.Signed{Action: kezekbot.ActionRevoke, Nonce: "nonce-9", OK: true},
			want: flows.SCard, effects: ""},
		{name: "signing screen shown again keeps the same link", chat: chatA, st: signing(2, 20), ev: flows.Command{Name: "help"},
			want: flows.SRevokeSigning, effects: "show(help,new)"},
		{name: "signing screen again after help", chat: chatA, st: signing(2, 20), ev: press(signing(2, 20), flows.ActRefresh, 0),
			want: flows.SRevokeSigning, effects: "answer() show(sign_link)",
			check: func(t *testing.T, f *fixture, _ flows.State, sc flows.Screen) {
				if len(f.links.issued) != 0 || sc.Link.URL != "https://sign.kezekbot.example/l/9" {
					t.Errorf("issued %v link %+v", f.links.issued, sc.Link)
				}
			}},
		{name: "signing link expired", chat: chatA, st: signing(2, 20), ev: press(signing(2, 20), flows.ActRefresh, 0), setup: func(f *fixture) { f.now = at(1) },
			want: flows.SCard, effects: "answer() show(card,notice.link_expired)"},

		// /settings: notification kinds, muted per chat
		{name: "settings command", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: flows.Command{Name: "/settings"},
			want: flows.SSettings, effects: "show(settings,new)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				want := []string{"menu:0", "mute:0", "mute:1", "mute:2", "mute:3", "mute:4"}
				if got := buttons(sc); !slices.Equal(got, want) || len(sc.Muted) != 0 {
					t.Errorf("buttons %v muted %v", got, sc.Muted)
				}
				for _, row := range sc.Buttons[:len(flows.MuteKinds)] {
					if row[0].Label != "btn.mute_on" {
						t.Errorf("label %q, want btn.mute_on", row[0].Label)
					}
				}
			}},
		{name: "menu has a settings button", chat: chatA, st: live(flows.SList, 0, 0, ""), ev: press(live(flows.SList, 0, 0, ""), flows.ActMenu, 0),
			want: flows.SMenu, effects: "answer() show(menu)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if !hasButton(sc, flows.ActSettings) {
					t.Errorf("menu buttons %v", buttons(sc))
				}
			}},
		{name: "settings button", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: press(live(flows.SMenu, 0, 0, ""), flows.ActSettings, 0),
			setup: func(f *fixture) { f.data.muted = map[int64]map[string]bool{chatA: {"queue_changed": true}} },
			want:  flows.SSettings, effects: "answer() show(settings)",
			check: func(t *testing.T, _ *fixture, _ flows.State, sc flows.Screen) {
				if !sc.Muted["queue_changed"] || len(sc.Muted) != 1 || sc.Buttons[4][0].Label != "btn.mute_off" {
					t.Errorf("muted %v buttons %+v", sc.Muted, sc.Buttons)
				}
			}},
		{name: "toggle reminder off", chat: chatA, st: live(flows.SSettings, 0, 0, ""), ev: press(live(flows.SSettings, 0, 0, ""), flows.ActMute, 1),
			want: flows.SSettings, effects: "answer(answer.muted) show(settings)",
			check: func(t *testing.T, f *fixture, _ flows.State, sc flows.Screen) {
				if got := f.data.mutedOf(chatA); !slices.Equal(got, []string{"reminder"}) || len(f.data.mutedOf(chatB)) != 0 {
					t.Errorf("muted A %v B %v", got, f.data.mutedOf(chatB))
				}
				if !sc.Muted["reminder"] || sc.Buttons[1][0].Label != "btn.mute_off" || sc.Buttons[1][0].ID != 1 {
					t.Errorf("muted %v button %+v", sc.Muted, sc.Buttons[1][0])
				}
			}},
		{name: "toggle reminder back on", chat: chatA, st: live(flows.SSettings, 0, 0, ""), ev: press(live(flows.SSettings, 0, 0, ""), flows.ActMute, 1),
			setup: func(f *fixture) {
				f.data.muted = map[int64]map[string]bool{chatA: {"reminder": true, "status_changed": true}, chatB: {"reminder": true}}
			},
			want: flows.SSettings, effects: "answer(answer.unmuted) show(settings)",
			check: func(t *testing.T, f *fixture, _ flows.State, sc flows.Screen) {
				if got := f.data.mutedOf(chatA); !slices.Equal(got, []string{"status_changed"}) || len(f.data.mutedOf(chatB)) != 1 {
					t.Errorf("muted A %v B %v", got, f.data.mutedOf(chatB))
				}
				if sc.Muted["reminder"] || !sc.Muted["status_changed"] {
					t.Errorf("muted %v", sc.Muted)
				}
			}},
		{name: "stale toggle", chat: chatA, st: live(flows.SSettings, 0, 0, ""), ev: flows.Press{Action: flows.ActMute, ID: 1, Rev: 6, MsgID: 55},
			want: flows.SSettings, effects: "answer(answer.stale) show(settings,notice.stale)",
			check: func(t *testing.T, f *fixture, _ flows.State, _ flows.Screen) {
				if got := f.data.mutedOf(chatA); len(got) != 0 {
					t.Errorf("a stale press muted %v", got)
				}
			}},
		{name: "toggle out of range", chat: chatA, st: live(flows.SSettings, 0, 0, ""), ev: press(live(flows.SSettings, 0, 0, ""), flows.ActMute, int64(len(flows.MuteKinds))),
			want: flows.SSettings, effects: "answer(answer.stale) show(settings,notice.stale)"},
		{name: "toggle forged on the menu", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: press(live(flows.SMenu, 0, 0, ""), flows.ActMute, 1),
			want: flows.SMenu, effects: "answer(answer.stale) show(menu,notice.stale)",
			check: func(t *testing.T, f *fixture, _ flows.State, _ flows.Screen) {
				if got := f.data.mutedOf(chatA); len(got) != 0 {
					t.Errorf("a forged press muted %v", got)
				}
			}},
		{name: "settings unbound", chat: 77, st: unbound(), ev: flows.Command{Name: "settings"},
			want: flows.SUnbound, effects: "show(welcome,new,notice.bind_first)"},
		{name: "settings button unbound", chat: 77, st: unbound(), ev: press(unbound(), flows.ActSettings, 0),
			want: flows.SUnbound, effects: "answer(answer.bind_first) show(welcome,notice.bind_first)"},
		{name: "settings after expiry, unbound", chat: 77, st: flows.State{}, ev: flows.Command{Name: "settings"},
			want: flows.SUnbound, effects: "show(welcome,new,notice.bind_first)"},
		{name: "back from settings", chat: chatA, st: live(flows.SSettings, 0, 0, ""), ev: press(live(flows.SSettings, 0, 0, ""), flows.ActBack, 0),
			want: flows.SMenu, effects: "answer() show(menu)"},
		{name: "settings store down", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: flows.Command{Name: "settings"},
			setup: func(f *fixture) { f.data.err = errBoom },
			want:  flows.SMenu, effects: "show(error,new,err=internal)", wantErr: true},
		{name: "toggle store down", chat: chatA, st: live(flows.SSettings, 0, 0, ""), ev: press(live(flows.SSettings, 0, 0, ""), flows.ActMute, 0),
			setup: func(f *fixture) { f.data.err = errBoom },
			want:  flows.SSettings, effects: "answer() show(error,err=internal)", wantErr: true},

		// free text, unsupported, commands, groups
		{name: "free text on a card", chat: chatA, st: live(flows.SCard, 2, 0, ""), ev: flows.Text{Text: "здравствуйте"},
			want: flows.SCard, effects: "show(card,new,notice.use_buttons)"},
		{name: "sticker", chat: chatA, st: live(flows.SList, 0, 0, ""), ev: flows.Unsupported{Kind: "sticker"},
			want: flows.SList, effects: "show(list,new,notice.unsupported)"},
		{name: "edited message", chat: chatA, st: live(flows.SRevokeReason, 2, 20, ""), ev: flows.Unsupported{Kind: "edited_message"},
			want: flows.SRevokeReason, effects: "show(revoke_reason,new,notice.unsupported)"},
		{name: "unknown command", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: flows.Command{Name: "rm", Arg: "-rf"},
			want: flows.SMenu, effects: "show(menu,new,notice.unknown_command)"},
		{name: "apps command", chat: chatA, st: live(flows.SMenu, 0, 0, ""), ev: flows.Command{Name: "apps"},
			want: flows.SList, effects: "show(list,new)"},
		{name: "command after expiry", chat: chatA, st: flows.State{}, ev: flows.Command{Name: "apps"},
			want: flows.SList, effects: "show(list,new)"},
		{name: "group start", chat: -100123, st: flows.State{}, ev: flows.Start{}, want: flows.SNew, effects: "show(group,new)"},
		{name: "group press", chat: -100123, st: flows.State{}, ev: flows.Press{Action: flows.ActApps, Rev: 1}, want: flows.SNew, effects: "answer(answer.private_only,alert)"},
		{name: "group text is ignored", chat: -100123, st: flows.State{}, ev: flows.Text{Text: "hi"}, want: flows.SNew, effects: ""},
		{name: "unknown state name starts over", chat: chatA, st: flows.State{Name: "from_the_future", IIN: iinA, Rev: 7}, ev: flows.Text{Text: "?"},
			want: flows.SMenu, effects: "show(menu,new,notice.use_buttons)"},
		{name: "bound state after the binding was removed elsewhere shows data of the cached IIN only", chat: chatA, st: live(flows.SCard, 100, 0, ""), ev: flows.Text{Text: "x"},
			want: flows.SCard, effects: "show(error,new,err=not_found)", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			if tc.setup != nil {
				tc.setup(f)
			}
			st, effs, err := f.step(t, tc.chat, tc.st, tc.ev)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if st.Name != tc.want {
				t.Errorf("state = %q, want %q", st.Name, tc.want)
			}
			if got := summary(effs); got != tc.effects {
				t.Errorf("effects = %s\n          want %s", got, tc.effects)
			}
			if tc.check != nil {
				var sc flows.Screen
				for _, e := range effs {
					if s, ok := e.(flows.Show); ok {
						sc = s.Screen
					}
				}
				tc.check(t, f, st, sc)
			}
		})
	}
}

// TestDoubleConfirm: two taps on «Подтвердить отказ» (or the same screen on two devices)
// issue one link; the second tap is stale and is answered, never acted on.
func TestDoubleConfirm(t *testing.T) {
	f := newFixture()
	st := live(flows.SRevokeConfirm, 2, 20, "Переезд")
	tap := press(st, flows.ActConfirm, 20)

	st1, effs, err := f.step(t, chatA, st, tap)
	if err != nil || st1.Name != flows.SRevokeSigning {
		t.Fatalf("first tap: %v %q %s", err, st1.Name, summary(effs))
	}
	link := screenOf(t, effs).Link

	// The second tap (same message, or the other device with its own copy) carries the old rev.
	for _, msg := range []int{55, 99} {
		tap2 := tap
		tap2.MsgID = msg
		st2, effs, err := f.step(t, chatA, st1, tap2)
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(effs); !strings.HasPrefix(got, "answer(answer.stale) show(sign_link") {
			t.Errorf("second tap: %s", got)
		}
		if len(f.links.issued) != 1 {
			t.Fatalf("second tap issued another link: %d", len(f.links.issued))
		}
		if sc := screenOf(t, effs); sc.Link == nil || *sc.Link != *link {
			t.Errorf("second tap shows link %+v, want the first %+v", sc.Link, link)
		}
		if st2.Nonce != st1.Nonce || st2.Name != flows.SRevokeSigning {
			t.Errorf("state changed: %+v", st2)
		}
	}
}

// TestLateConfirm: the card is drawn with «Отозвать направление» inside the window; the
// parent confirms after it closed, with the old state still claiming the referral is fine.
func TestLateConfirm(t *testing.T) {
	f := newFixture()
	st, effs, _ := f.step(t, chatA, live(flows.SList, 0, 0, ""), press(live(flows.SList, 0, 0, ""), flows.ActOpen, 2))
	if !hasButton(screenOf(t, effs), flows.ActRevoke) {
		t.Fatal("no revoke button inside the window")
	}
	st, _, _ = f.step(t, chatA, st, press(st, flows.ActRevoke, 2))
	st, _, _ = f.step(t, chatA, st, press(st, flows.ActReasonPreset, 0))
	if st.Name != flows.SRevokeConfirm {
		t.Fatalf("state %q", st.Name)
	}

	f.now = t0.Add(22*time.Hour + time.Second) // the referral was issued at t0-2h
	st2, effs, err := f.step(t, chatA, st, press(st, flows.ActConfirm, 20))
	if err != nil {
		t.Fatal(err)
	}
	sc := screenOf(t, effs)
	if sc.Kind != flows.ScreenRefused || sc.Refusal == nil || sc.Refusal.Reason != kezekbot.RefusalWindowClosed {
		t.Fatalf("late confirm: %s %+v", summary(effs), sc.Refusal)
	}
	if want := t0.Add(22 * time.Hour); !sc.Refusal.ClosedAt.Equal(want) {
		t.Errorf("closed at %v, want %v", sc.Refusal.ClosedAt, want)
	}
	if len(f.links.issued) != 0 {
		t.Errorf("issued %+v", f.links.issued)
	}

	// And the card drawn now has no revoke button.
	_, effs, _ = f.step(t, chatA, st2, press(st2, flows.ActOpen, 2))
	if hasButton(screenOf(t, effs), flows.ActRevoke) {
		t.Error("revoke button after the window")
	}
}

func TestRevisionsAreFresh(t *testing.T) {
	f := newFixture()
	f.m.Rand = func() uint32 { return 7 } // a bad source: always the current revision
	st, effs, _ := f.step(t, chatA, live(flows.SMenu, 0, 0, ""), press(live(flows.SMenu, 0, 0, ""), flows.ActApps, 0))
	if st.Rev == 7 || st.Rev == 0 || screenOf(t, effs).Rev != st.Rev {
		t.Errorf("rev %d", st.Rev)
	}
	f.m.Rand = nil
	for range 100 {
		next, _, _ := f.step(t, chatA, st, press(st, flows.ActRefresh, 0))
		if next.Rev == st.Rev {
			t.Fatal("revision repeated")
		}
		st = next
	}
}

func TestDataErrorWrapped(t *testing.T) {
	f := newFixture()
	f.data.err = kezekbot.Errorf(kezekbot.EINTERNAL, "pool closed")
	st := live(flows.SList, 0, 0, "")
	_, _, err := f.step(t, chatA, st, press(st, flows.ActOpen, 2))
	var de *kezekbot.Error
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "load application 2") {
		t.Errorf("err = %v", err)
	}
}

func TestUnknownEvent(t *testing.T) {
	f := newFixture()
	st := live(flows.SMenu, 0, 0, "")
	next, effs, err := f.m.Step(t.Context(), chatA, st, nil)
	if err == nil || len(effs) != 0 || next != st {
		t.Errorf("nil event: %v %v %+v", err, effs, next)
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"Иванов Алексей Петрович": "Иванов А.",
		"ИБО-ОГЛЫ АБУБАКИР":       "ИБО-ОГЛЫ А.",
		"  Әлиев   Ұлан ":         "Әлиев Ұ.",
		"Мадонна":                 "Мадонна",
		"":                        "",
	} {
		if got := flows.ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReasonPresets(t *testing.T) {
	if n := len(flows.ReasonPresets); n < 4 || n > 6 || !flows.ReasonPresets[n-1].Other {
		t.Fatalf("%d presets, last must ask to type", n)
	}
	for i, p := range flows.ReasonPresets {
		for _, l := range []flows.Lang{flows.Kazakh, flows.Russian} {
			if _, err := kezekbot.NormalizeReason(p.Text(l)); err != nil {
				t.Errorf("preset %d %s: %v", i, l, err)
			}
			// Presets are buttons.
			for _, problem := range textlint.Button(p.Text(l)) {
				t.Errorf("preset %d %s: %s", i, l, problem)
			}
		}
		for _, problem := range append(textlint.Kazakh(p.KK), textlint.Russian(p.RU)...) {
			t.Errorf("preset %d: %s", i, problem)
		}
	}
}

func TestMapButtons(t *testing.T) {
	b := flows.MapButtons(kezekbot.Kindergarten{Lat: 51.1282, Lon: 71.4306})
	if len(b) != 2 || b[0].URL != "https://2gis.kz/astana/geo/71.430600,51.128200" || !strings.HasPrefix(b[1].URL, "https://yandex.kz/maps/?pt=71.430600,51.128200") {
		t.Errorf("%+v", b)
	}
	if flows.MapButtons(kezekbot.Kindergarten{}) != nil || flows.MapButtons(kezekbot.Kindergarten{Lat: 500, Lon: 1}) != nil {
		t.Error("buttons for unknown coordinates")
	}
}

// Notification buttons carry revision 0: open and revoke work from any screen (as a new
// message), through the same visibility and 24h checks; any other action with revision 0
// stays stale.
func TestNotificationEntryPoints(t *testing.T) {
	tests := []struct {
		name string
		st   flows.State
		act  flows.ButtonAction
		id   int64
		want string // summary prefix
	}{
		{"open from another screen", live(flows.SHistory, 1, 0, ""), flows.ActOpen, 2, "answer() show(card,new)"},
		{"revoke from the menu", live(flows.SMenu, 0, 0, ""), flows.ActRevoke, 2, "answer() show(revoke_reason,new)"},
		{"another parent's application", live(flows.SMenu, 0, 0, ""), flows.ActOpen, 100, "answer() show(error,new,err=not_found)"},
		{"window closed", live(flows.SMenu, 0, 0, ""), flows.ActRevoke, 3, "answer(answer.refused) show(refused,new)"},
		{"unbound chat", unbound(), flows.ActOpen, 2, "answer(answer.bind_first) show(welcome"},
		{"other actions stay stale", live(flows.SMenu, 0, 0, ""), flows.ActHistory, 2, "answer(answer.stale)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			_, effs, _ := f.step(t, chatA, tt.st, flows.Press{Action: tt.act, ID: tt.id, Rev: 0, MsgID: 900})
			if got := summary(effs); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %s, want prefix %s", got, tt.want)
			}
			if len(f.links.issued) != 0 {
				t.Fatal("a notification button issued a signing link")
			}
		})
	}
}

// TestSettingsWithoutMuteStore: a Data without MuteStore draws no settings button, and
// /settings is an error screen rather than a panic.
func TestSettingsWithoutMuteStore(t *testing.T) {
	f := newFixture()
	f.m.Data = struct{ flows.Data }{f.data}
	_, effs, _ := f.step(t, chatA, live(flows.SList, 0, 0, ""), flows.Command{Name: "menu"})
	if sc := screenOf(t, effs); sc.Kind != flows.ScreenMenu || hasButton(sc, flows.ActSettings) {
		t.Errorf("menu %s buttons %v", sc.Kind, buttons(sc))
	}
	st, effs, err := f.step(t, chatA, live(flows.SMenu, 0, 0, ""), flows.Command{Name: "settings"})
	if got := summary(effs); got != "show(error,new,err=internal)" || err == nil || st.Name != flows.SMenu {
		t.Errorf("effects %s err %v state %q", got, err, st.Name)
	}
}
