// Making a group.

import { $, avatar, h, icon } from './dom.js';
import { adoptChat, client, onlineShown } from './state.js';
import { renderChatList, peopleSearch } from './chat-list.js';
import { openChat } from './conversation.js';

const group = { selected: new Map() };

export function openGroupDialog() {
  group.selected.clear();
  $('group-name').value = '';
  $('group-search').value = '';
  $('group-results').replaceChildren();
  $('group-error').textContent = '';
  renderGroupSelected();
  $('group-dialog').showModal();
  $('group-name').focus();
}

function renderGroupSelected() {
  $('group-selected').replaceChildren(
    ...[...group.selected.values()].map((user) =>
      h(
        'li',
        { class: 'chip' },
        h('span', { text: user.username }),
        h(
          'button',
          {
            type: 'button',
            class: 'chip-remove',
            'aria-label': `Remove ${user.username}`,
            onclick: () => {
              group.selected.delete(user.id);
              renderGroupSelected();
              $('group-search').focus();
            },
          },
          icon('close'),
        ),
      ),
    ),
  );
}

export const runGroupSearch = peopleSearch('group-search', {
  show: showChoices,
  fail: (err) => ($('group-error').textContent = err.message),
});

function showChoices(users) {
  $('group-results').replaceChildren(
    ...(users ?? []).map((user) => {
      const chosen = group.selected.has(user.id);
      return h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'person',
            'aria-pressed': chosen ? 'true' : 'false',
            onclick: (event) => {
              if (group.selected.has(user.id)) group.selected.delete(user.id);
              else group.selected.set(user.id, user);
              event.currentTarget.setAttribute('aria-pressed', group.selected.has(user.id) ? 'true' : 'false');
              renderGroupSelected();
            },
          },
          avatar(user.username, { online: onlineShown(user) }),
          h('span', { class: 'person-name', text: user.username }),
        ),
      );
    }),
  );
}

export async function onGroupSubmit(event) {
  event.preventDefault();
  const name = $('group-name').value.trim();
  const error = $('group-error');
  if (name === '') {
    error.textContent = 'Give the group a name.';
    $('group-name').focus();
    return;
  }
  if (group.selected.size === 0) {
    error.textContent = 'Add at least one person.';
    $('group-search').focus();
    return;
  }
  // One group per click, however slow the answer.
  const button = $('group-create');
  if (button.disabled) return;
  button.disabled = true;
  try {
    const chat = adoptChat(await client.request('POST', '/chats', { name, members: [...group.selected.values()].map((u) => u.username) }));
    $('group-dialog').close();
    renderChatList();
    openChat(chat.id);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

