// Button radio groups (role="radiogroup" of role="radio" buttons), as the WAI-ARIA radio group pattern
// has them: one tab stop per group, on the checked radio; the arrow keys move the choice and the focus
// together, wrapping at the ends; Home and End jump to the first and last.

const radiosOf = (group) => [...group.querySelectorAll('[role="radio"]')].filter((r) => !r.disabled);

/** Call `choose(radio)` when a radio of `group` is clicked or reached with the keyboard. */
export function radioGroup(group, choose) {
  group.addEventListener('click', (event) => {
    const radio = event.target.closest('[role="radio"]');
    if (radio && group.contains(radio)) choose(radio);
  });
  group.addEventListener('keydown', (event) => {
    const radios = radiosOf(group);
    const at = radios.indexOf(event.target.closest('[role="radio"]'));
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (at < 0 || event.altKey || event.ctrlKey || event.metaKey) return;
    let to;
    if (step) to = (at + step + radios.length) % radios.length;
    else if (event.key === 'Home') to = 0;
    else if (event.key === 'End') to = radios.length - 1;
    else return;
    event.preventDefault();
    event.stopPropagation();
    radios[to].focus();
    choose(radios[to]);
  });
}

/** Mark the radio for which `isChecked` holds as checked, and make it the group's tab stop. */
export function checkRadio(group, isChecked) {
  const radios = radiosOf(group);
  let any = false;
  for (const radio of radios) {
    const on = !any && isChecked(radio);
    any ||= on;
    radio.setAttribute('aria-checked', String(on));
    radio.tabIndex = on ? 0 : -1;
  }
  if (!any && radios.length) radios[0].tabIndex = 0;
}
