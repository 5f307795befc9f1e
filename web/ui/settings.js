// (being written) The settings dialog: profile, password, notifications, sessions.
import { $ } from './dom.js';
export function openSettings() {
  $('settings-dialog').showModal();
}
export function wireSettings() {
  $('settings-close').addEventListener('click', () => $('settings-dialog').close());
}
